// How much text a context can hold: the bound on every prompt file and chat line read.

import TensorLedgerFormats

public enum TextBound {
    /// The most bytes of text that `contextLength` tokens of `tokenizer` can stand for:
    /// each token at most its longest piece, with room for normalizers that shrink text
    /// (NFC composes up to three characters into one).
    public static func bytes(contextLength: Int, tokenizer: BPETokenizer) -> Int {
        let (product, overflow) = contextLength.multipliedReportingOverflow(by: 4 * max(tokenizer.longestPieceBytes, 1))
        return overflow ? Int.max / 2 : product + 4096
    }
}
