/// The engine's snapshot format version.
public let engineSnapshotFormatVersion: UInt32 = 1
