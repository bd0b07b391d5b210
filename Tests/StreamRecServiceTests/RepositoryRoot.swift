/// The repository checkout these tests run from, found from this file's path.
enum RepositoryRoot {
    static let path: String = {
        var components = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast(3)  // Tests/StreamRecServiceTests/RepositoryRoot.swift
        return components.joined(separator: "/")
    }()
}
