import Hummingbird
import NIOCore

/// The request context: Hummingbird's core storage plus the connection, so a handler can see
/// the client go away (its channel closes) and cancel the generation it was waiting for.
struct ServerContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
