// Reading files: a read-only memory map of a whole file (pages are touched only when
// read, so opening a multi-gigabyte checkpoint and reading its header costs
// milliseconds), and small files (configs, tokenizers, texts) read whole, with a limit.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class MappedFile: @unchecked Sendable {
    public let path: String
    /// The file's bytes; valid for the lifetime of this object.
    public let bytes: UnsafeRawBufferPointer
    public var count: Int { bytes.count }
    private let base: UnsafeMutableRawPointer?

    public init(path: String) throws(FileError) {
        self.path = path
        let (fd, size) = try openRegularFile(path)
        defer { close(fd) }
        if size == 0 {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw .readFailed(path: path, reason: MappedFile.message(errno)) }
        base = p
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    /// Tells the kernel the whole file will be read front to back.
    public func adviseSequential() {
        if let base { _ = madvise(base, bytes.count, MADV_SEQUENTIAL) }
    }

    /// Releases the pages covering `range` from this process (they stay in the page cache).
    public func release(_ range: Range<Int>) {
        guard let base, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = range.lowerBound / page * page
        let end = min((range.upperBound + page - 1) / page * page, bytes.count)
        if end > start { _ = madvise(base + start, end - start, MADV_DONTNEED) }
    }

    deinit {
        if let base { munmap(base, bytes.count) }
    }

    package static func openError(path: String, errno code: Int32) -> FileError {
        switch code {
        case ENOENT, ENOTDIR: return pathKind(path) == .brokenLink ? .brokenLink(path: path) : .notFound(path: path)
        case EACCES, EPERM: return .permissionDenied(path: path)
        case ELOOP: return .symlinkLoop(path: path)
        case EISDIR: return .isDirectory(path: path)
        default: return .readFailed(path: path, reason: message(code))
        }
    }

    package static func message(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}

/// Opens a regular file for reading; the caller closes the descriptor. Opened without
/// blocking, so a FIFO (or a device) named as a model is refused at once instead of
/// waiting forever for a writer; reads from a regular file never block anyway.
package func openRegularFile(_ path: String) throws(FileError) -> (fd: Int32, size: Int) {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    if fd < 0 { throw MappedFile.openError(path: path, errno: errno) }
    var st = stat()
    guard fstat(fd, &st) == 0 else {
        let e = FileError.readFailed(path: path, reason: MappedFile.message(errno))
        close(fd)
        throw e
    }
    let kind = st.st_mode & S_IFMT
    guard kind == S_IFREG else {
        close(fd)
        throw kind == S_IFDIR ? .isDirectory(path: path) : .readFailed(path: path, reason: "not a regular file")
    }
    return (fd, Int(st.st_size))
}

/// Reads a whole small file (configs, tokenizers) into memory, refusing anything over
/// `limit` bytes. Uses read(2), not a mapping, so files that report no size (/proc) work.
/// `-` is standard input when `dashIsStandardInput`.
public func readWholeFile(_ path: String, limit: Int = 512 << 20, dashIsStandardInput: Bool = false) throws(FileError) -> [UInt8] {
    if dashIsStandardInput && path == "-" { return try readToEnd(fd: 0, path: "standard input", sizeHint: 0, limit: limit) }
    let (fd, size) = try openRegularFile(path)
    defer { close(fd) }
    guard size <= limit else { throw .tooLarge(path: path, limit: limit) }
    return try readToEnd(fd: fd, path: path, sizeHint: size, limit: limit)
}

private func readToEnd(fd: Int32, path: String, sizeHint: Int, limit: Int) throws(FileError) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: max(sizeHint, 4096))
    var used = 0
    while true {
        if used == out.count {
            guard out.count < limit else { throw .tooLarge(path: path, limit: limit) }
            out += [UInt8](repeating: 0, count: min(out.count, limit - out.count + 1))
        }
        let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + used, $0.count - used) }
        if n < 0 {
            if errno == EINTR { continue }
            throw .readFailed(path: path, reason: MappedFile.message(errno))
        }
        if n == 0 { break }
        used += n
    }
    out.removeLast(out.count - used)
    return out
}
