import Hummingbird
import KilnCore

/// An error answered in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`, with
/// `param` naming the request field at fault so a client can tell what to fix.
struct APIError: Error, HTTPResponseError {
    var status: HTTPResponse.Status
    var message: String
    var type: String
    var param: String?
    var code: String?
    var headers: HTTPFields = [:]

    static func invalid(_ message: String, param: String?, code: String? = nil) -> APIError {
        APIError(status: .badRequest, message: message, type: "invalid_request_error", param: param, code: code)
    }

    var json: JSONValue {
        .object(["error": .object([
            "message": .string(message), "type": .string(type),
            "param": param.map(JSONValue.string) ?? .null, "code": code.map(JSONValue.string) ?? .null,
        ])])
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONBody.response(json, status: status)
        for field in headers { response.headers.append(field) }
        return response
    }
}

/// JSON response bodies from `JSONValue`.
enum JSONBody {
    static func response(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: value.serialized())))
    }
}
