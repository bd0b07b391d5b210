import Foundation
import StreamRecEngine
import Yams

/// Reads engine configuration files: YAML with `EngineConfiguration`'s property names as keys (`blend:`,
/// `semantic: {candidates: 25}`), absent keys at their defaults. `evaluate --config`, `bench engine --config`
/// and `serve`'s `engine.config_file` read the same format, so what was tuned offline is what is served.
public enum EngineConfigurationFile {
    /// Why a file was refused, naming the file and the key.
    public struct Failure: Error, CustomStringConvertible {
        /// The file, or the text's source.
        public let source: String
        /// What is wrong, without the file.
        public let problem: String

        public var description: String { "engine configuration file '\(source)': \(problem)" }
    }

    public static func load(_ path: String) throws(Failure) -> EngineConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(source: path, problem: "cannot be read")
        }
        return try parse(String(decoding: data, as: UTF8.self), source: path)
    }

    /// Parses YAML text; `source` names it in errors. A key the configuration does not have is an error, so a
    /// typo never passes silently.
    public static func parse(_ text: String, source: String) throws(Failure) -> EngineConfiguration {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw Failure(source: source, problem: "not valid YAML (\(error))")
        }
        if let root, let unknown = unknownKey(in: root, known: knownKeys) {
            throw Failure(
                source: source,
                problem: "unknown key '\(unknown)' (the keys are EngineConfiguration's property names, e.g. "
                    + "blend.semantic; see docs/evaluation.md)")
        }
        do {
            return try YAMLDecoder().decode(EngineConfiguration.self, from: text)
        } catch let error as DecodingError {
            throw Failure(source: source, problem: describe(error))
        } catch {
            throw Failure(source: source, problem: "\(error)")
        }
    }

    /// Every key path of the configuration, from its own encoding (so a new setting is known at once).
    private static let knownKeys: Set<String> = {
        var keys = Set<String>()
        func collect(_ value: Any, prefix: String) {
            guard let object = value as? [String: Any] else { return }
            for (key, child) in object {
                let path = prefix.isEmpty ? key : "\(prefix).\(key)"
                keys.insert(path)
                collect(child, prefix: path)
            }
        }
        if let data = try? JSONEncoder().encode(EngineConfiguration()),
            let object = try? JSONSerialization.jsonObject(with: data)
        {
            collect(object, prefix: "")
        }
        return keys
    }()

    private static func unknownKey(in node: Node, known: Set<String>, prefix: String = "") -> String? {
        guard let mapping = node.mapping else { return nil }
        for (keyNode, valueNode) in mapping {
            let path = prefix.isEmpty ? (keyNode.string ?? "") : "\(prefix).\(keyNode.string ?? "")"
            guard known.contains(path) else { return path }
            if let unknown = unknownKey(in: valueNode, known: known, prefix: path) { return unknown }
        }
        return nil
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map(\.stringValue).joined(separator: ".")
        }
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "key '\(path(context))': \(context.debugDescription)"
        case .keyNotFound(let key, let context):
            return "key '\(path(context)).\(key.stringValue)' is missing"
        @unknown default:
            return "\(error)"
        }
    }
}
