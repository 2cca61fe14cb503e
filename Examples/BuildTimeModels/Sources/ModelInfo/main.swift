import Foundation
import Kiln

// The plugin built tiny_gpt2.kiln from the safetensors file and bundled it.
guard let url = Bundle.module.url(forResource: "tiny_gpt2", withExtension: "kiln") else {
    fatalError("tiny_gpt2.kiln was not bundled")
}
let file = try KilnFile(path: url.path)
let types = Set(file.tensors.map(\.type.name)).sorted()
let sound = file.verify().isSound
print("\(url.lastPathComponent): \(file.tensors.count) tensors, types \(types.joined(separator: ", ")), sound: \(sound)")
// Tools/test.sh runs this example: a file that fails its checksums must fail the run.
if !sound { exit(1) }
