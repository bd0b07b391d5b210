/// One remembered interaction of a user.
struct Interaction: Sendable, Equatable {
    var item: Int32
    var type: EventType
    /// The session (serial in the ``SessionStore``) it happened in.
    var session: UInt32
    var timeMilliseconds: Int64
}

/// A remembered search of a user.
struct RecentQuery: Sendable, Equatable {
    var query: Int32
    var timeMilliseconds: Int64
}

/// Everything the engine keeps about one user; every part is bounded by the configuration.
struct UserState: Sendable, Equatable {
    /// Oldest first, at most `historyPerUser`.
    var history: [Interaction] = []
    /// Oldest first, at most `queriesPerUser`.
    var queries: [RecentQuery] = []
    /// The user's sessions by the stable hash of their id, most recent last (at most two: interleaved sessions).
    var sessions: [(hash: UInt64, serial: UInt32)] = []
    /// Decayed mix of the vectors of touched items and queries; empty until the first event.
    var interest: [Float] = []
    var interestTimeMilliseconds: Int64 = 0
    var lastEventMilliseconds: Int64 = 0

    static func == (lhs: UserState, rhs: UserState) -> Bool {
        lhs.history == rhs.history && lhs.queries == rhs.queries
            && lhs.sessions.elementsEqual(rhs.sessions, by: { $0.hash == $1.hash && $0.serial == $1.serial })
            && lhs.interest == rhs.interest && lhs.interestTimeMilliseconds == rhs.interestTimeMilliseconds
            && lhs.lastEventMilliseconds == rhs.lastEventMilliseconds
    }

    mutating func remember(_ interaction: Interaction, limit: Int) {
        if history.count >= limit {
            history.removeFirst(history.count - limit + 1)
        } else if history.capacity == 0 {
            // Room for a session's worth at once: growing one by one reallocated 4 times in a user's first 8 events.
            history.reserveCapacity(min(limit, 8))
        }
        history.append(interaction)
    }

    /// The serial of the user's latest session with the id hash, if any.
    func latestSerial(ofSession hash: UInt64) -> UInt32? {
        var index = sessions.count
        while index > 0 {
            index -= 1
            if sessions[index].hash == hash { return sessions[index].serial }
        }
        return nil
    }

    /// Makes the session the user's latest (keeping at most two: interleaved sessions), in place.
    mutating func noteSession(hash: UInt64, serial: UInt32) {
        if let last = sessions.last, last.hash == hash, last.serial == serial { return }
        sessions.removeAll { $0.hash == hash }
        if sessions.count >= 2 { sessions.removeFirst(sessions.count - 1) }
        if sessions.capacity == 0 { sessions.reserveCapacity(2) }  // the second session would reallocate
        sessions.append((hash, serial))
    }

    mutating func remember(_ query: RecentQuery, limit: Int) {
        queries.removeAll { $0.query == query.query }
        if queries.count >= limit { queries.removeFirst(queries.count - limit + 1) }
        queries.append(query)
    }

    /// Decays the interest vector to `time` and adds `vector` × `weight`.
    mutating func addInterest(_ vector: [Float], weight: Float, at time: Int64, halfLifeSeconds: Double) {
        guard !vector.isEmpty else { return }
        if interest.isEmpty {
            interest = [Float](repeating: 0, count: vector.count)
        } else if time > interestTimeMilliseconds {
            let factor = Float(exp2(-Double(time - interestTimeMilliseconds) / (halfLifeSeconds * 1000)))
            for index in interest.indices { interest[index] *= factor }
        }
        interestTimeMilliseconds = max(interestTimeMilliseconds, time)
        VectorMath.add(vector, scaledBy: weight, to: &interest)
    }
}
