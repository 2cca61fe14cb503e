// The Kiln library: one import for apps and tools.
@_exported import KilnCore
@_exported import KilnFormats
@_exported import KilnKernels
@_exported import KilnRuntime
@_exported import KilnQuant
