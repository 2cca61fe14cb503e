import KilnCore

/// A value on the pickle machine's stack. Only Python's plain data and the few torch objects
/// Kiln builds exist here: there is no case for "an arbitrary object", so nothing a pickle
/// says can become code.
///
/// Containers live in the machine's arena and are referred to by index. That keeps this enum
/// flat (not recursive): a hostile pickle nesting a million tuples cannot overflow the stack
/// when values are destroyed, and cycles (a list appended to itself via the memo) cost nothing.
enum PickleValue: Equatable {
    case none
    case bool(Bool)
    case int(Int64)
    /// An integer beyond 64 bits (LONG1/LONG4): little-endian two's complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case container(Int)
    /// An allow-listed global (a class or function Kiln implements itself).
    case global(TorchGlobal)
    /// A storage from a persistent id, by index into the machine's storages.
    case storage(Int)
    /// A tensor built by `_rebuild_tensor_v2`, by index into the machine's tensors.
    case tensor(Int)

    var typeName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int, .bigInt: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .container: return "container"
        case .global(let g): return "global '\(g.qualifiedName)'"
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}

/// Tuples, lists, dicts and sets. Dicts keep insertion order (Python dicts and OrderedDict do).
struct PickleContainer {
    enum Kind: String {
        case tuple, list, dict, orderedDict = "OrderedDict", set
    }

    var kind: Kind
    /// Elements (tuple, list, set) or dict values.
    var items: [PickleValue] = []
    /// Dict keys, parallel to `items`.
    var keys: [PickleValue] = []
    /// Dict key → position in `keys`, so a repeated key replaces its value as in Python.
    var index: [PickleKey: Int] = [:]

    var isDict: Bool { kind == .dict || kind == .orderedDict }
}

/// A hashable image of a dict key. Python allows any hashable key; state dicts use strings,
/// optimizer state uses ints, and tuples of these cover the rest Kiln needs.
indirect enum PickleKey: Hashable {
    case none
    case bool(Bool)
    case int(Int64)
    case bigInt([UInt8])
    case float(UInt64)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleKey])
}

/// What a persistent id refers to: one storage of the checkpoint, read later from its zip
/// record (`data/<key>`) or from the legacy file's storage section.
struct StorageRef {
    let key: String
    let type: ElementType
    /// Elements in the storage, as the persistent id declares.
    let elementCount: Int
}

/// A tensor as `_rebuild_tensor_v2` describes it: a window of a storage. Offset and strides
/// count elements, as in PyTorch.
struct TensorRef {
    let storage: Int
    let storageOffset: Int
    let shape: [Int]
    let strides: [Int]
}

/// The globals Kiln implements itself. Everything else a pickle names is refused.
enum TorchGlobal: Equatable {
    case orderedDict
    case rebuildTensorV2
    case rebuildParameter
    case storageClass(name: String, type: ElementType)
    /// `_codecs.encode(str, "latin1")`: how protocol 2 pickles Python 3 bytes.
    case codecsEncode

    var qualifiedName: String {
        switch self {
        case .orderedDict: return "collections.OrderedDict"
        case .rebuildTensorV2: return "torch._utils._rebuild_tensor_v2"
        case .rebuildParameter: return "torch._utils._rebuild_parameter"
        case .storageClass(let name, _): return name
        case .codecsEncode: return "_codecs.encode"
        }
    }

    /// Storage classes and the element type of their data (torch/storage.py). Typed storages
    /// are how tensors reach the pickle; `UntypedStorage` holds bytes.
    static let storageTypes: [String: ElementType] = [
        "FloatStorage": .f32, "DoubleStorage": .f64, "HalfStorage": .f16, "BFloat16Storage": .bf16,
        "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8,
        "ByteStorage": .u8, "BoolStorage": .bool, "UntypedStorage": .u8,
    ]
    /// Storage classes that exist in torch but whose element types Kiln does not have.
    static let unsupportedStorageTypes: Set<String> = [
        "ComplexFloatStorage", "ComplexDoubleStorage", "QInt8Storage", "QUInt8Storage", "QInt32Storage",
        "QUInt4x2Storage", "QUInt2x4Storage", "ComplexHalfStorage",
    ]

    /// The allow-listed global for `module.name`, or nil when it must be refused.
    static func resolve(module: String, name: String) throws -> TorchGlobal? {
        switch (module, name) {
        case ("collections", "OrderedDict"): return .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): return .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): return .rebuildParameter
        case ("_codecs", "encode"): return .codecsEncode
        case ("torch", _), ("torch.storage", "UntypedStorage"):
            if let type = storageTypes[name] { return .storageClass(name: "\(module).\(name)", type: type) }
            if unsupportedStorageTypes.contains(name) {
                throw KilnError(.unsupported, "storage type \(module).\(name) holds an element type Kiln does not support")
            }
            return nil
        default: return nil
        }
    }

    static let allowListDescription =
        "collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, torch.*Storage, _codecs.encode"
}
