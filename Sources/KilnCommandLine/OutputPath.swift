import Foundation
import KilnCore

/// An output path as the user gave it, made ready for writing: `-o newdir/model.kiln` creates
/// `newdir`, and `-o hf2/` (a trailing slash, or a folder that exists) names a file inside the
/// folder. The writers themselves only ever see a file path.
package struct OutputPath {
    /// The file to write.
    package let file: String
    /// Whether the user named a folder (so the file name was chosen here).
    package let isFolder: Bool

    /// `path`, or `path/defaultName` when `path` names a folder.
    package init(_ path: String, defaultName: String) {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        if path.hasSuffix("/") || (exists && isDirectory.boolValue) {
            file = (path.hasSuffix("/") ? path : path + "/") + defaultName
            isFolder = true
        } else {
            file = path
            isFolder = false
        }
    }

    /// Refuses to replace an existing file without `overwrite`.
    package func checkOverwrite(_ overwrite: Bool) throws {
        if !overwrite, FileManager.default.fileExists(atPath: file) {
            throw KilnError(.usage, "already exists; choose another path or pass --overwrite", file: file)
        }
    }

    /// Creates the folders leading to the file (as `mkdir -p`), after every check has passed, so
    /// that a refused command leaves nothing behind.
    package func createFolders() throws {
        let directory = URL(fileURLWithPath: file).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw KilnError(.io, "is a file, not a folder", file: directory) }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw KilnError(foundation: error).map { KilnError(.io, "cannot create the folder: \($0.message)", file: directory) }
                ?? KilnError(.io, "cannot create the folder", file: directory)
        }
    }
}
