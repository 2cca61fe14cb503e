import ArgumentParser
import Foundation

extension ParsableCommand {
    /// A better message than ArgumentParser's for a command line that failed to parse, or nil:
    /// a misspelt command (`kiln conver a -o b`, which ArgumentParser reports as "Unknown option
    /// '-o'") or a misspelt option (`--ouput`, reported as "Missing expected argument
    /// '--output'"), each with the nearest real name.
    package static func usageHint(_ arguments: [String]) -> String? {
        let tool = configuration.commandName ?? _commandName
        let subcommands = configuration.subcommands
        let names = subcommands.map { $0._commandName }
        var command: ParsableCommand.Type = self
        var path = tool
        if let first = arguments.first, !first.hasPrefix("-") {
            if let chosen = subcommands.first(where: { $0._commandName == first }) {
                command = chosen
                path += " " + first
            } else if first != "help" {
                let nearest = closest(first, in: names)
                // kiln-run's first word may be a model path (the default command): only a word that
                // is no file and is close to a command's name is taken for a misspelt command.
                if configuration.defaultSubcommand == nil || (nearest != nil && !FileManager.default.fileExists(atPath: first)) {
                    return "unknown command '\(first)'" + (nearest.map { "; did you mean '\($0)'?" } ?? "")
                        + " Commands: \(names.joined(separator: ", "))."
                }
                if let fallback = configuration.defaultSubcommand { command = fallback; path += " " + fallback._commandName }
            }
        } else if let fallback = configuration.defaultSubcommand {
            command = fallback
            path += " " + fallback._commandName
        }
        let known = optionNames(of: command)
        for argument in arguments.prefix(while: { $0 != "--" }) where argument.hasPrefix("--") {
            let name = String(argument.split(separator: "=", maxSplits: 1).first ?? "")
            if known.contains(name) { continue }
            let nearest = closest(name, in: Array(known))
            return "unknown option '\(name)'" + (nearest.map { "; did you mean '\($0)'?" } ?? "; see '\(path) --help'")
        }
        return nil
    }

    /// Every `--long` name a command accepts, hidden ones included, read from its help text
    /// (ArgumentParser has no public list of a command's names).
    private static func optionNames(of command: ParsableCommand.Type) -> Set<String> {
        let help = command == self ? helpMessage(includeHidden: true) : helpMessage(for: command, includeHidden: true)
        var names: Set<String> = ["--help", "--version"]
        var current = ""
        for character in help + " " {
            if character.isLetter || character.isNumber || character == "-" {
                current.append(character)
            } else {
                if current.hasPrefix("--"), current.count > 2 { names.insert(current) }
                current = ""
            }
        }
        return names
    }
}

/// The candidate nearest `word` (at most two edits, or a prefix of it), or nil.
package func closest(_ word: String, in candidates: [String]) -> String? {
    let scored = candidates.map { ($0, editDistance(word, $0)) }.filter { $0.1 <= 2 || $0.0.hasPrefix(word) && word.count >= 3 }
    return scored.min { $0.1 < $1.1 }?.0
}

/// Levenshtein distance: insertions, deletions and substitutions.
package func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + [Int](repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
