// Paths: what a path names, joining and splitting them, listing and making directories.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What kind of object a path names, without following more than the kernel's symlink limit.
public enum PathKind: Sendable {
    case file, directory, missing, other
    /// A symbolic link to nothing (an interrupted download in a Hugging Face cache).
    case brokenLink
}

/// Why a path cannot be used (missing, a symlink loop, no permission), for paths that
/// `pathKind` called missing.
public func pathError(_ path: String) -> FileError {
    var st = stat()
    guard stat(path, &st) != 0 else { return .readFailed(path: path, reason: "unreadable") }
    return MappedFile.openError(path: path, errno: errno)
}

public func pathKind(_ path: String) -> PathKind {
    var st = stat()
    guard stat(path, &st) == 0 else {
        return lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFLNK ? .brokenLink : .missing
    }
    switch st.st_mode & S_IFMT {
    case S_IFREG: return .file
    case S_IFDIR: return .directory
    default: return .other
    }
}

/// Lists a directory's entries (names only), sorted.
public func directoryEntries(_ path: String) throws(FileError) -> [String] {
    guard let dir = opendir(path) else { throw MappedFile.openError(path: path, errno: errno) }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafePointer(to: entry.pointee.d_name) { ptr in
            ptr.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

/// Joins path components with a single slash.
public func joinPath(_ a: String, _ b: String) -> String {
    if a.isEmpty { return b }
    return a.hasSuffix("/") ? a + b : a + "/" + b
}

/// The directory part of a path ("." for a bare name).
public func parentDirectory(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    if slash == path.startIndex { return "/" }
    return String(path[..<slash])
}

public func lastPathComponent(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return path }
    return String(path[path.index(after: slash)...])
}

/// Creates a directory (and its parents) if it does not exist yet.
public func makeDirectory(_ path: String) throws(FileError) {
    if pathKind(path) == .directory { return }
    let parent = parentDirectory(path)
    if parent != path, parent != ".", parent != "/", pathKind(parent) == .missing { try makeDirectory(parent) }
    if mkdir(path, 0o755) != 0 && errno != EEXIST {
        throw .writeFailed(path: path, reason: String(cString: strerror(errno)))
    }
}
