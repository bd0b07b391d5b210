import Testing
@testable import StreamRecService
