import Hummingbird
import KilnCore

/// `--api-key`: every endpoint but /health and /metrics needs `Authorization: Bearer KEY`
/// (what OpenAI's SDKs send), else 401 in OpenAI's error shape.
struct APIKeyMiddleware: RouterMiddleware {
    let key: String

    func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        if request.uri.path == "/health" || request.uri.path == "/metrics" { return try await next(request, context) }
        let expected = Array("Bearer \(key)".utf8)
        let given = Array((request.headers[.authorization] ?? "").utf8)
        // Compared in time independent of where the first difference is.
        var difference = UInt8(given.count == expected.count ? 0 : 1)
        for (i, byte) in expected.enumerated() { difference |= byte ^ (i < given.count ? given[i] : 0) }
        guard difference == 0 else {
            throw APIError(status: .unauthorized, message: "a valid API key is required: send 'Authorization: Bearer KEY'",
                           type: "invalid_request_error", param: nil, code: "invalid_api_key",
                           headers: [.wwwAuthenticate: "Bearer"])
        }
        return try await next(request, context)
    }
}

/// Counts every answered request by endpoint (the matched route, so client-chosen paths cannot
/// grow the label set) and status.
struct RequestMetricsMiddleware: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            metrics.request(endpoint: context.endpointPath ?? "unmatched", status: response.status.code)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            metrics.request(endpoint: context.endpointPath ?? "unmatched", status: status)
            throw error
        }
    }
}

/// Anything a handler throws that is not already an HTTP error becomes OpenAI's error shape
/// (a 404 for an unknown path included), so clients always get a parseable body.
struct ErrorShapeMiddleware: RouterMiddleware {
    func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as HTTPError where error.status == .notFound && !APIRoutes.methods(for: request.uri.path).isEmpty {
            // A path the API has, with a method it does not: 405 and the methods it takes.
            let allowed = APIRoutes.methods(for: request.uri.path)
            throw APIError(status: .methodNotAllowed, message: "\(request.uri.path) takes \(allowed.joined(separator: ", ")), not \(request.method)",
                           type: "invalid_request_error", param: nil, code: nil, headers: [.allow: allowed.joined(separator: ", ")])
        } catch let error as HTTPError {
            throw APIError(status: error.status, message: error.body ?? "\(error.status.reasonPhrase) (\(request.method) \(request.uri.path))",
                           type: error.status.code >= 500 ? "server_error" : "invalid_request_error", param: nil, code: nil)
        } catch let error as any HTTPResponseError {
            throw error
        } catch {
            throw APIError(status: .internalServerError, message: "\(error)", type: "server_error", param: nil, code: nil)
        }
    }
}
