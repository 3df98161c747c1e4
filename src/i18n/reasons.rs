//! What the runner writes into cells and rows (what a path read, why a cell came out as it
//! did) and what doctor says each check enables.

/// `(key, English, Japanese)`. Reasons are sentences in Japanese (ending in `。`) and clauses
/// in English (joined by `; `).
pub(super) const REASONS: &[(&str, &str, &str)] = &[
    // What a path read, in a view's title and a reason (`… read by {what}`).
    ("what.dump", "confidump's dump", "confidump のダンプ"),
    (
        "what.dump-of",
        "confidump's dump of {}",
        "confidump による {} のダンプ",
    ),
    ("what.gcore", "gdb's gcore", "gdb の gcore"),
    (
        "what.gcore-of",
        "gdb's gcore of {}",
        "gdb の gcore による {} のダンプ",
    ),
    ("what.live", "live read", "ライブ読み取り"),
    ("what.live-of", "a live read of {}", "{} のライブ読み取り"),
    (
        "what.serial",
        "the host's read of the guest's serial console",
        "ホストが読んだゲストのシリアルコンソール",
    ),
    (
        "what.data-dir",
        "a scan of the data directory",
        "データディレクトリのスキャン",
    ),
    ("what.kernel-core", "the kernel's core", "カーネルのコア"),
    (
        "what.qmp",
        "QEMU's dump-guest-memory",
        "QEMU の dump-guest-memory",
    ),
    // Views' titles: the region, then what read it.
    ("view.leak", "{} at {} ({})", "{} の {}（{}）"),
    (
        "view.refused",
        "{}: read refused ({})",
        "{}：読み取り拒否（{}）",
    ),
    (
        "view.left-out",
        "{}: left out ({})",
        "{}：ダンプに含まれない（{}）",
    ),
    // Reasons.
    (
        "reason.each-process",
        "{} (each of {} processes)",
        "{}（{} 個のプロセスのどれにもない）。",
    ),
    (
        "reason.checkpoint-failed",
        "CHECKPOINT failed: the files are as the server last wrote them",
        "CHECKPOINT に失敗した。ファイルはサーバーが最後に書いたまま。",
    ),
    (
        "reason.argv-cmdline",
        "also in /proc/{}/cmdline (ps -ww shows it to every user)",
        "/proc/{}/cmdline にもある（ps -ww で誰にでも見える）。",
    ),
    (
        "reason.region-read",
        "the region {}-{} was read and the secret was not in it",
        "領域 {}-{} を読んだが、秘密はなかった。",
    ),
    (
        "reason.fragments",
        "fragments of the secret only",
        "秘密の断片だけ",
    ),
    // What each doctor check enables.
    ("enables.vm-rows", "VM rows", "VM の行"),
    (
        "enables.faster-vm-rows",
        "faster VM rows",
        "VM の行の高速化",
    ),
    (
        "enables.secretmem",
        "secretmem scenarios",
        "secretmem のシナリオ",
    ),
    (
        "enables.dump-live",
        "dump and live-read columns",
        "dump と live の列",
    ),
    ("enables.kernel", "kernel core column", "kernel の列"),
    ("enables.gcore", "gcore column", "gcore の列"),
    ("enables.sgx", "SGX row", "SGX の行"),
    (
        "enables.cvm",
        "CVM rows (no plaintext in host-side dumps)",
        "コンフィデンシャル VM の行（ホスト側のダンプに平文がないこと）",
    ),
    ("enables.same-uid", "same-uid column", "same-uid の列"),
    ("enables.container", "container rows", "コンテナの行"),
    ("enables.database", "database rows", "データベースの行"),
];
