// The version `--version` prints and every .tlm file records in `created_by`.

public enum TensorLedgerVersion {
    public static let string = "0.1.0"
}
