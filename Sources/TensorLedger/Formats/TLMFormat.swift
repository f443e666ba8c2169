// The .tlm container: constants shared by its reader and writer (see docs/FORMAT.md).

public enum TLMFormat {
    public static let magicString = "TLMF"
}
