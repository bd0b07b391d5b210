import Testing
@testable import StreamRecService

@Suite struct MetricsTests {
    @Test func metricsRenderAsPrometheusTextAndMove() {
        let metrics = ServiceMetrics()
        metrics.countEvent(type: "click")
        metrics.countEvent(type: "click")
        metrics.countEvent(type: "bogus")
        metrics.recordLag(partition: 3, messages: 12)
        metrics.batchDuration.recordMilliseconds(3)
        let text = metrics.render()
        #expect(text.contains(#"streamrec_events_consumed_total{type="click"} 2"#))
        #expect(text.contains(#"streamrec_events_consumed_total{type="other"} 1"#))
        #expect(text.contains(#"streamrec_consumer_lag{partition="3"} 12"#))
        #expect(text.contains("streamrec_batch_duration_seconds_count 1"))
        #expect(PrometheusText.parse(text) != nil)
    }
}

/// A strict reader of the Prometheus text format (what a scraper accepts), returning sample values by
/// series (`name{labels}`); nil when any line is malformed.
enum PrometheusText {
    static func parse(_ text: String) -> [String: Double]? {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") || line.hasPrefix("# HELP ") { continue }
            guard !line.hasPrefix("#") else { return nil }
            guard let space = line.lastIndex(of: " ") else { return nil }
            let series = String(line[..<space])
            let valueText = line[line.index(after: space)...]
            guard let value = Double(valueText) ?? (valueText == "+Inf" ? .infinity : nil) else { return nil }
            let name = series.prefix { $0 != "{" }
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }) else { return nil }
            if series.contains("{") { guard series.hasSuffix("}") else { return nil } }
            samples[series] = value
        }
        return samples
    }
}
