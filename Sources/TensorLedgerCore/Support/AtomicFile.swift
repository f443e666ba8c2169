// Writing an output so that it either appears whole or not at all. On Linux the bytes
// go to an unnamed file in the target's directory (O_TMPFILE): if the process is killed,
// even by SIGKILL, the file vanishes with it. Only when everything is written and synced
// does it get a hidden name, renamed at once over the target. Where unnamed files are
// not supported, a hidden temporary file is used from the start (removed on failure and
// on SIGINT/SIGTERM/SIGHUP).

import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class AtomicFileWriter {
    public let path: String
    /// The hidden name the file has before it is renamed: from the start, or (for an
    /// unnamed file) only from the moment it is complete.
    public private(set) var temporaryPath: String
    private var unnamed: Bool
    private var fd: Int32
    private var buffer: [UInt8] = []
    private let bufferLimit = 4 << 20
    private var finished = false
    /// Bytes written so far (including buffered ones).
    public private(set) var offset: Int = 0
    /// Bytes handed to the kernel for writeback so far (see `startWriteback`).
    private var writebackStart = 0

    /// Whether `path` may be written: not a directory, device or FIFO, none of `inputs`
    /// (compared by device and inode, whatever the spelling), and not there at all unless
    /// `overwrite`. Writers of several files check them all before writing the first.
    public static func checkTarget(_ path: String, overwrite: Bool, protecting inputs: [String] = []) throws(FileError) {
        var st = stat()
        guard stat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw .isDirectory(path: path) }
        // Renaming over a device, FIFO or socket would replace it, not write to it.
        if (st.st_mode & S_IFMT) != S_IFREG { throw .outputNotRegular(path: path) }
        for input in inputs {
            var ist = stat()
            if stat(input, &ist) == 0, ist.st_dev == st.st_dev, ist.st_ino == st.st_ino {
                throw .outputIsInput(path: path)
            }
        }
        if !overwrite { throw .outputExists(path: path) }
    }

    /// Opens a temporary file beside `path`. Refuses to replace an existing file unless
    /// `overwrite`, and never replaces any path in `protecting` (the inputs).
    public init(path: String, overwrite: Bool, protecting inputs: [String] = []) throws(FileError) {
        self.path = path
        try AtomicFileWriter.checkTarget(path, overwrite: overwrite, protecting: inputs)
        let dir = parentDirectory(path)
        var template = Array(joinPath(dir, "." + lastPathComponent(path) + ".partial-XXXXXX").utf8CString)
        let anonymous = tl_open_unnamed(dir)
        if anonymous >= 0 {
            fd = anonymous
            unnamed = true
            temporaryPath = AtomicFileWriter.hiddenName(for: path)
        } else {
            let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            if fd < 0 {
                let code = errno
                throw .writeFailed(path: path, reason: String(cString: strerror(code)))
            }
            self.fd = fd
            unnamed = false
            temporaryPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            fchmod(fd, 0o644)
        }
        TemporaryFiles.register(temporaryPath)
    }

    deinit {
        if !finished { abandon() }
    }

    /// ".NAME.partial-XXXXXX" beside `path`, with a random suffix.
    package static func hiddenName(for path: String) -> String {
        var rng = SystemRandomNumberGenerator()
        let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        let suffix = String((0..<6).map { _ in letters[Int(rng.next() % UInt64(letters.count))] })
        return joinPath(parentDirectory(path), "." + lastPathComponent(path) + ".partial-" + suffix)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(FileError) {
        if buffer.count + bytes.count > bufferLimit { try flushBuffer() }
        if bytes.count >= bufferLimit {
            try writeAll(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
        offset += bytes.count
    }

    public func write(_ bytes: [UInt8]) throws(FileError) {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(FileError) in try write(raw) } }
        try result.get()
    }

    /// Writes zero bytes until the offset is a multiple of `alignment`.
    public func pad(toMultipleOf alignment: Int) throws(FileError) {
        let rem = offset % alignment
        if rem != 0 { try write([UInt8](repeating: 0, count: alignment - rem)) }
    }

    /// Overwrites bytes already written at `position` (for headers patched at the end).
    public func patch(_ bytes: [UInt8], at position: Int) throws(FileError) {
        try flushBuffer()
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(position)) }
        if n != bytes.count { throw failure() }
    }

    /// Extends the file with a hole up to `size` bytes (sparse: nothing is written).
    public func extend(to size: Int) throws(FileError) {
        try flushBuffer()
        if ftruncate(fd, off_t(size)) != 0 { throw failure() }
        offset = size
    }

    /// Flushes, syncs and renames the temporary file over the target.
    public func commit() throws(FileError) {
        try flushBuffer()
        if fsync(fd) != 0 { throw failure() }
        if unnamed {
            // Name it; a name someone else took meanwhile gets another try.
            var attempts = 0
            while tl_link_unnamed(fd, temporaryPath) != 0 {
                attempts += 1
                guard errno == EEXIST, attempts < 16 else { throw failure() }
                temporaryPath = AtomicFileWriter.hiddenName(for: path)
                TemporaryFiles.register(temporaryPath)
            }
            unnamed = false
        }
        close(fd)
        fd = -1
        if rename(temporaryPath, path) != 0 {
            let e = failure()
            abandon()
            throw e
        }
        finished = true
        TemporaryFiles.unregister()
    }

    /// Removes the temporary file; the target is untouched.
    public func abandon() {
        if fd >= 0 { close(fd); fd = -1 }
        if !unnamed { unlink(temporaryPath) }
        finished = true
        TemporaryFiles.unregister()
    }

    private func flushBuffer() throws(FileError) {
        guard !buffer.isEmpty else { return }
        let result = buffer.withUnsafeBytes { raw in Result { () throws(FileError) in try writeAll(raw) } }
        buffer.removeAll(keepingCapacity: true)
        try result.get()
    }

    /// Starts writing what is in the page cache to disk without waiting, so the final
    /// fsync has little left to do (Linux's sync_file_range; elsewhere a no-op).
    private func startWriteback(upTo end: Int) {
        guard end - writebackStart >= 8 << 20 else { return }
        _ = tl_start_writeback(fd, Int64(writebackStart), Int64(end - writebackStart))
        writebackStart = end
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(FileError) {
        if let code = TensorLedgerCore.writeAll(fd: fd, bytes) { throw failure(code) }
        startWriteback(upTo: Int(lseek(fd, 0, SEEK_CUR)))
    }

    private func failure(_ code: Int32 = errno) -> FileError {
        let reason = code == ENOSPC ? "no space left on device" : (code == EFBIG ? "file too large for this system's limits" : String(cString: strerror(code)))
        return .writeFailed(path: path, reason: reason)
    }
}
