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
    // Why a path does not run against a context's victim (a cell's n/a, by design).
    (
        "plan.same-uid.db",
        "the attacker here is the database's operator (root)",
        "ここでの攻撃者はデータベースの運用者（root）。",
    ),
    (
        "plan.kernel.vm",
        "not run: a kernel core of QEMU would end the VM; the dump column reads the same memory",
        "実行しない。QEMU をカーネルにコアダンプさせると VM が終わってしまう（dump の列が同じメモリを読む）。",
    ),
    (
        "plan.same-uid.vm",
        "the attacker here is the host operator (root)",
        "ここでの攻撃者はホストの運用者（root）。",
    ),
    (
        "plan.wire.vm",
        "the guest sends nothing out: only memory is attacked",
        "ゲストは何も外に送り出さない。攻撃の対象はメモリだけ。",
    ),
    (
        "plan.same-uid.container",
        "the attacker here is the host's root (the container runs as root)",
        "ここでの攻撃者はホストの root（コンテナは root で動く）。",
    ),
    (
        "plan.checkpoint.namespaces",
        "CRIU checkpoints an OCI runtime's container (runc checkpoint); this one is confidump's own namespaces",
        "CRIU がチェックポイントを取るのは OCI ランタイムのコンテナ（runc checkpoint）。このコンテナは confidump 自身の名前空間。",
    ),
    (
        "plan.checkpoint.not-wired",
        "CRIU works on this host, but confidump does not take a checkpoint yet (runc checkpoint is not wired in)",
        "このホストでは CRIU が動くが、confidump はまだチェックポイントを取らない（runc checkpoint は未実装）。",
    ),
    (
        "plan.no-victim-for-mode",
        "no victim for this mode",
        "このモードの標的プロセスはない。",
    ),
    (
        "plan.same-uid.root",
        "only a scenario whose victim runs as an unprivileged user runs a same-uid attacker",
        "標的プロセスを非特権ユーザーで動かすシナリオだけが、同じ uid の攻撃者を試す。",
    ),
    (
        "plan.kernel.db",
        "not run: a kernel core needs a server process to crash (SIGQUIT would end the server); gcore and dump read the same memory",
        "実行しない。カーネルのコアにはサーバーのプロセスをクラッシュさせる必要がある（SIGQUIT でサーバーが終わる）。gcore と dump が同じメモリを読む。",
    ),
    (
        "plan.kernel.container",
        "SIGQUIT to a container's PID 1 is ignored: its init has no handler (the kernel writes no core; a `docker run --init` style init would be needed)",
        "コンテナの PID 1 に送った SIGQUIT は無視される。その init にはハンドラーがない（カーネルはコアを書かない。コアを得るには、コンテナに別の init プロセスが必要）。",
    ),
    (
        "plan.only-for.qmp",
        "only for a victim inside a VM: the hypervisor's dump-guest-memory",
        "VM の中の標的プロセスだけが対象（ハイパーバイザーの dump-guest-memory）。",
    ),
    (
        "plan.only-for.checkpoint",
        "only for a victim in an OCI container: CRIU's checkpoint (runc checkpoint)",
        "OCI コンテナの中の標的プロセスだけが対象（CRIU のチェックポイント、runc checkpoint）。",
    ),
    (
        "plan.only-for.disk",
        "only for a database server: its data directory",
        "データベースサーバーだけが対象（そのデータディレクトリ）。",
    ),
    (
        "plan.only-for.client",
        "only for a database server: the process of its client",
        "データベースサーバーだけが対象（そのクライアントのプロセス）。",
    ),
    (
        "plan.only-for.wire",
        "the victim sends nothing out: only memory is attacked",
        "標的プロセスは何も外に送り出さない。攻撃の対象はメモリだけ。",
    ),
    (
        "plan.only-for.other",
        "does not apply to this victim",
        "この標的プロセスには当てはまらない。",
    ),
    (
        "plan.kata-pod-vm",
        "needs a Kata pod VM on {} (AKS runtime class kata-cc-isolation): {}",
        "{} 上の Kata のポッド VM が必要（AKS のランタイムクラス kata-cc-isolation）。{}",
    ),
    (
        "plan.only-for.pod",
        "only for a victim in a container: a process of a sibling container in its pod",
        "コンテナの中の標的プロセスだけが対象（同じポッドの別コンテナのプロセス）。",
    ),
    (
        "plan.pod.vm",
        "a pod VM holds the whole pod: its sibling containers run in the same guest, under the guest kernel's rules (those of the container rows; victim --guest-yama shows Yama's there); the VM keeps the node out, not the pod's own containers",
        "ポッド VM はポッド全体を収める。同じポッドの別コンテナは同じゲストの中で、ゲストのカーネルの規則（コンテナの行と同じ。Yama の規則はゲストでの検査が示す）に従って動く。VM が締め出すのはノードであり、ポッド自身のコンテナではない。",
    ),
    (
        "reason.pod.allowed",
        "the kernel let the {} read it: {}",
        "カーネルは {} に読ませた（{}）。",
    ),
    (
        "reason.pod.region-refused",
        "the kernel let the {} open the process but refused the secret's pages ({}): {}",
        "カーネルは {} にプロセスを開かせたが、秘密のページ（{}）の読み取りは拒否した（{}）。",
    ),
    (
        "pod.rule.uid",
        "the target belongs to another uid and the attacker lacks CAP_SYS_PTRACE",
        "uid の規則：標的プロセスの uid が攻撃者と違い、攻撃者は CAP_SYS_PTRACE を持たない",
    ),
    (
        "pod.rule.dumpable",
        "the target is not dumpable and the attacker lacks CAP_SYS_PTRACE",
        "ダンプ可否の規則：標的プロセスはダンプ不可（PR_SET_DUMPABLE=0）で、攻撃者は CAP_SYS_PTRACE を持たない",
    ),
    (
        "pod.rule.capabilities",
        "the target's permitted capabilities are not a subset of the attacker's, which lacks CAP_SYS_PTRACE",
        "ケーパビリティの規則：標的プロセスの許可ケーパビリティが攻撃者のものに含まれず、攻撃者は CAP_SYS_PTRACE を持たない",
    ),
    (
        "pod.rule.yama",
        "Yama (kernel.yama.ptrace_scope = {})",
        "Yama の規則（kernel.yama.ptrace_scope = {}）",
    ),
    (
        "pod.rule.allowed-ptrace",
        "the attacker holds CAP_SYS_PTRACE, which passes the uid, dumpable and capability checks; {}",
        "攻撃者は CAP_SYS_PTRACE を持ち、uid・ダンプ可否・ケーパビリティの検査をすべて通る。{}",
    ),
    (
        "pod.rule.allowed-same-uid",
        "same uid, the target is dumpable and its permitted capabilities are a subset of the attacker's; {}",
        "uid が同じで、標的プロセスはダンプ可能、その許可ケーパビリティは攻撃者のものに含まれる。{}",
    ),
    (
        "pod.rule.no-yama",
        "no Yama LSM on this kernel",
        "このカーネルに Yama はない",
    ),
    (
        "pod.rule.yama-allows",
        "Yama's ptrace_scope {} allows it",
        "Yama の ptrace_scope {} はこれを許す",
    ),
    (
        "reason.pod.refused",
        "the kernel refused the {}: {}",
        "カーネルは {} を拒否した（{}）。",
    ),
];
