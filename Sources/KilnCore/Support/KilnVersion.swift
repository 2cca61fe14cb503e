/// The version of this Kiln library.
public enum KilnVersion {
    /// The version recorded in `provenance.tool` of every file Kiln writes.
    public static let current = "0.1.0"
}
