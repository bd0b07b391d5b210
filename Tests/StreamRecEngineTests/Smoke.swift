import Testing
@testable import StreamRecEngine
