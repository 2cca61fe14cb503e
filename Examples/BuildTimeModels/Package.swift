// swift-tools-version:6.0
// An example of Kiln's build-tool plugin: the model listed in kiln-models.json is converted
// (and quantised) to .kiln when the target builds, and bundled as a resource.
import PackageDescription

let package = Package(
    name: "BuildTimeModels",
    platforms: [.macOS(.v13)],
    dependencies: [.package(path: "../..")],
    targets: [
        .executableTarget(
            name: "ModelInfo",
            dependencies: [.product(name: "Kiln", package: "Kiln")],
            plugins: [.plugin(name: "KilnBuildPlugin", package: "Kiln")]
        ),
    ]
)
