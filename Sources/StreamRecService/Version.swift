import StreamRecEngine
import StreamRecKafka

/// The model version stamped on every published recommendation.
public let modelVersion = "streamrec-engine-v\(engineSnapshotFormatVersion)"
