// Sharded checkpoints: the index and the shards must agree.

import Testing
@testable import TensorLedger

@Suite struct CheckpointTests {
    @Test func opensAShardedCheckpointAsOne() throws {
        let facts = try Fixtures.checkpointFacts["gpt2-tiny-sharded"]!.object!
        let sharded = try Checkpoint.open(Fixtures.model("gpt2-tiny-sharded"))
        let single = try Checkpoint.open(Fixtures.model("gpt2-tiny"))
        #expect(sharded.shards.count == facts["shards"]!.array!.count)
        #expect(sharded.warnings.isEmpty)
        #expect(sharded.declaredTotalSize == facts["total_size"]!.int)
        #expect(Set(sharded.tensors.map(\.name)) == Set(single.tensors.map(\.name)))
        for t in single.tensors {
            let s = try #require(sharded.tensor(named: t.name))
            #expect(s.info.shape == t.info.shape)
            #expect(Array(sharded.data(for: s)) == Array(single.data(for: t)), "\(t.name)")
        }
    }

    @Test(arguments: [
        ("sharded-missing-shard", "shardMissing"),
        ("sharded-tensor-not-in-shard", "tensorMissingFromShard"),
        ("sharded-tensor-in-two-shards", "tensorInTwoShards"),
        ("sharded-path-traversal", "invalidIndex"),
    ])
    func rejectsAnInconsistentIndex(_ fixture: String, _ expected: String) {
        do {
            _ = try Checkpoint.open(Fixtures.path("malformed/" + fixture))
            Issue.record("\(fixture) opened")
        } catch {
            #expect(caseName(error) == expected, "\(error)")
        }
    }

    @Test(arguments: [
        ("sharded-tensor-not-in-map", "not in the index's weight_map"),
        ("sharded-wrong-total-size", "metadata.total_size says"),
    ])
    func warnsWhereLoadingIsStillSafe(_ fixture: String, _ warning: String) throws {
        let c = try Checkpoint.open(Fixtures.path("malformed/" + fixture))
        #expect(c.warnings.count == 1)
        #expect(c.warnings.first?.contains(warning) == true, "\(c.warnings)")
    }

    @Test func namesMissingFilesAndDirectories() {
        #expect(throws: FileError.notFound(path: "/nonexistent/model.safetensors")) {
            try Checkpoint.open("/nonexistent/model.safetensors")
        }
        let empty = TemporaryDirectory()
        #expect(throws: CheckpointError.noWeights(directory: empty.path)) {
            try Checkpoint.open(empty.path)
        }
        #expect(throws: CheckpointError.ambiguousDirectory(directory: Fixtures.path("expected"),
                                                           files: ["q8-input.safetensors", "q8-reference.safetensors"])) {
            try Checkpoint.open(Fixtures.path("expected"))
        }
        #expect(throws: FileError.isDirectory(path: Fixtures.path("models"))) {
            try SafetensorsFile(path: Fixtures.path("models"))
        }
    }
}
