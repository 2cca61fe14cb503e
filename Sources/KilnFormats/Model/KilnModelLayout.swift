import KilnCore

/// `.kiln` files written by Kiln already hold the canonical description.
struct KilnModelLayout: ModelLayout {
    func recognize(_ reader: any CheckpointReader) throws -> CanonicalModel.Recognized? {
        guard reader is KilnFile else { return nil }
        let metadata = reader.metadata
        let config = try metadata[ModelConfig.metadataKey].map { try ModelConfig(metadata: $0) }
        let tokenizer = try TokenizerSpec(canonical: metadata)
        let carried = metadata.filter { key, _ in
            key != ModelConfig.metadataKey && !key.hasPrefix("tokenizer.") && !key.hasPrefix("provenance.")
                && key != "general.architecture"
        }
        return .init(config: config, tokenizer: tokenizer, tensors: reader.sourceTensors.map { CanonicalTensor(identity: $0) },
                     extraMetadata: carried)
    }
}
