import Foundation
import KilnCore
import TestSupport
import Testing

/// Issue 15, points 1 and 3: an output's extension decides its format or is refused before any
/// work; folders are created, named and read; errors name the user's path, never a temporary file.
struct OutputPathCLITests {
    let kiln = Repository.executable("kiln")
    let kilnRun = Repository.executable("kiln-run")
    let gpt2 = Repository.fixture("safetensors/tiny_gpt2.safetensors")
    let llamaFolder = Repository.fixture("diff/llama_hf")

    @Test func quantizeRefusesAnOutputItCannotWriteBeforeAnyWork() throws {
        let directory = TemporaryDirectory()
        let cases: [([String], String)] = [
            (["quantize", gpt2, "-o", directory.file("x.safetensors"), "--scheme", "q8_0"], "cannot be stored in safetensors"),
            (["quantize", gpt2, "-o", directory.file("x.gguf"), "--scheme", "kq4"], "GGUF cannot hold"),
            (["quantize", gpt2, "-o", directory.file("x.gguf"), "--scheme", "q4-mixed"], "GGUF cannot hold"),
            (["convert", gpt2, "-o", directory.file("x.gguf"), "--quantize", "kq4"], "GGUF cannot hold"),
            (["quantize", gpt2, "-o", directory.file("x.bin"), "--scheme", "q8_0"], "cannot tell the output format"),
        ]
        for (arguments, message) in cases {
            let result = try run(kiln, arguments)
            #expect(result.status == 2, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            #expect(!result.stderr.contains("tensor ") && !result.stdout.contains("bits per weight"), "refused before quantising")
        }
        // convert --quantize names only what was passed (it used to blame --dtype and --compress).
        let mixed = try run(kiln, ["convert", gpt2, "-o", directory.file("q.kiln"), "--quantize", "q8_0", "--compress", "3"])
        #expect(mixed.status == 2)
        #expect(mixed.stderr.contains("does not combine with --compress") && !mixed.stderr.contains("--dtype"), "\(mixed.stderr)")
        #expect(directory.contents.isEmpty, "\(directory.contents)")
    }

    /// `-o x.gguf` is a GGUF that gguf-py reads, with the quantised types asked for.
    @Test(arguments: [["quantize", "@in", "-o", "@out", "--scheme", "Q4_0"], ["convert", "@in", "-o", "@out", "--quantize", "q8"]])
    func quantizeToGGUFWritesAGGUF(_ template: [String]) throws {
        let directory = TemporaryDirectory()
        let output = directory.file("x.gguf")
        let arguments = template.map { $0 == "@in" ? llamaFolder : $0 == "@out" ? output : $0 }
        let result = try run(kiln, arguments)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Array(try readFile(output).prefix(4)) == Array("GGUF".utf8))
        #expect(directory.contents == ["x.gguf"], "the staging .kiln is gone: \(directory.contents)")
        let generate = try run(kilnRun, [output, "-p", "hello", "-n", "3", "--temp", "0"])
        #expect(generate.status == 0, "Kiln runs the GGUF it wrote: \(generate.stderr)")
        guard pythonCanImport(["gguf", "numpy"]) else { return }
        let check = try runPythonCheck("check_gguf.py", [output])
        #expect(check.status == 0, "\(check.output)")
        let types = try run(python3()!, ["-c", "import gguf,sys; print(sorted({t.tensor_type.name for t in gguf.GGUFReader(sys.argv[1]).tensors}))", output])
        #expect(types.stdout.contains(template.contains("Q4_0") ? "Q4_0" : "Q8_0"), "\(types.stdout)\(types.stderr)")
    }

    /// A GGUF requantised into a GGUF is labelled with its new type, not the source's: q4_0 →
    /// q8_0 must say MOSTLY_Q8_0 (the value and the name come from gguf-py's `LlamaFileType`).
    @Test func requantisedGGUFNamesItsNewFileType() throws {
        let directory = TemporaryDirectory()
        let source = directory.file("q4.gguf"), output = directory.file("q8.gguf")
        let first = try run(kiln, ["convert", llamaFolder, "-o", source, "--quantize", "q4_0"])
        try #require(first.status == 0, "\(first.stderr)")
        let second = try run(kiln, ["quantize", source, "-o", output, "--scheme", "q8_0", "--allow-requantize"])
        try #require(second.status == 0, "\(second.stderr)")
        guard pythonCanImport(["gguf", "numpy"]) else { return }
        let script = """
            import gguf, sys
            for path in sys.argv[1:]:
                field = gguf.GGUFReader(path).fields["general.file_type"]
                print(gguf.LlamaFileType(int(field.parts[field.data[0]][0])).name)
            """
        let names = try run(python3()!, ["-c", script, source, output])
        #expect(names.stdout.split(separator: "\n") == ["MOSTLY_Q4_0", "MOSTLY_Q8_0"], "\(names.stdout)\(names.stderr)")
    }

    @Test func quantizeWritesKilnUnderAKilnName() throws {
        let directory = TemporaryDirectory()
        let output = directory.file("x.kiln")
        let result = try run(kiln, ["quantize", gpt2, "-o", output, "--scheme", "q8_0"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Array(try readFile(output).prefix(4)) != Array("GGUF".utf8))
        #expect(try KilnFile(path: output).tensors.contains { $0.type.isQuantized })
    }

    @Test func convertCreatesTheOutputFolder() throws {
        let directory = TemporaryDirectory()
        let output = directory.file("new/deeper/model.safetensors")
        let result = try run(kiln, ["convert", gpt2, "-o", output])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: output))
        #expect(try run(kiln, ["inspect", output]).status == 0)
    }

    @Test func aFolderOutputIsAHuggingFaceFolderThatKilnRunRuns() throws {
        let directory = TemporaryDirectory()
        let folder = directory.file("hf2") + "/"
        let convert = try run(kiln, ["convert", llamaFolder, "-o", folder])
        #expect(convert.status == 0, "\(convert.stderr)")
        for name in ["model.safetensors", "config.json", "tokenizer.json"] {
            #expect(FileManager.default.fileExists(atPath: folder + name), "\(name) in \(directory.contents)")
        }
        // The folder itself, with and without the slash, is a model for every command.
        for path in [folder, String(folder.dropLast())] {
            let generate = try run(kilnRun, [path, "-p", "hello", "-n", "3", "--temp", "0"])
            #expect(generate.status == 0, "\(path): \(generate.stderr)")
            let inspect = try run(kiln, ["inspect", path, "--json"])
            #expect(inspect.status == 0, "\(inspect.stderr)")
            #expect(try JSONValue.parse(inspect.stdout)["format"] == .string("safetensors"))
        }
        let original = try run(kilnRun, ["tokenize", llamaFolder, "hello world"])
        let exported = try run(kilnRun, ["tokenize", folder, "hello world"])
        #expect(original.status == 0 && original.stdout == exported.stdout, "\(original.stderr)")
    }

    @Test func anEmptyFolderIsNamedAsSuch() throws {
        let directory = TemporaryDirectory()
        let result = try run(kilnRun, [directory.path, "-p", "x"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("\(directory.path): is a folder with no checkpoint"), "\(result.stderr)")
    }

    @Test func writeErrorsNameTheUsersPathNotATemporaryFile() throws {
        let directory = TemporaryDirectory()
        let locked = directory.file("locked")
        try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: false)
        try FileManager.default.setAttributes([.posixPermissions: 0o500], ofItemAtPath: locked)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: locked) }
        let output = locked + "/model.kiln"
        guard access(locked, W_OK) != 0 else { return }  // root writes anywhere: nothing to test
        let result = try run(kiln, ["convert", gpt2, "-o", output])
        #expect(result.status == 2)
        #expect(result.stderr.contains(output), "\(result.stderr)")
        #expect(!result.stderr.contains(".tmp-"), "\(result.stderr)")
    }

    /// /proc refuses new files even to root: the writer's own open fails, on its temporary file.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self")))
    func unwritableFolderIsReportedWithTheUsersPath() throws {
        let output = "/proc/kiln-test-\(getpid()).kiln"
        let result = try run(kiln, ["convert", gpt2, "-o", output])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("\(output): "), "\(result.stderr)")
        #expect(!result.stderr.contains(".tmp-"), "\(result.stderr)")
    }

    /// A path under a regular file cannot be created: the error names the user's path.
    @Test func impossibleFolderIsReportedWithTheUsersPath() throws {
        let directory = TemporaryDirectory()
        try writeFile(directory.file("plain"), [1, 2, 3])
        let output = directory.file("plain/model.kiln")
        let result = try run(kiln, ["convert", gpt2, "-o", output])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains(directory.file("plain")), "\(result.stderr)")
        #expect(!result.stderr.contains(".tmp-"), "\(result.stderr)")
    }
}
