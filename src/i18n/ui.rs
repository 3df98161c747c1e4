//! English and Japanese strings for the demo's narration: the matrix table, the HTML report and
//! presenter mode all take their words from here, so both languages stay complete together.
//!
//! Scenario texts (titles, lessons) live in the scenario files as [`crate::model::Texts`]; this
//! module only holds the UI's own words. The table is one static list so that a missing
//! translation shows up in review as a line with an empty column, and in the test below.

/// `ja` when the locale is Japanese, else `en`.
///
/// Follows POSIX precedence: the first of `LC_ALL`, `LC_MESSAGES`, `LANG` that is set and not
/// empty decides, so `LC_ALL=C LANG=ja_JP.UTF-8` is English, as every other program on the
/// machine would read it.
pub fn detect_lang() -> &'static str {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let locale = var("LC_ALL")
        .or_else(|| var("LC_MESSAGES"))
        .or_else(|| var("LANG"));
    lang_of_locale(locale.as_deref())
}

/// The language of a locale name (`ja_JP.UTF-8` → `ja`); `en` for anything else.
pub fn lang_of_locale(locale: Option<&str>) -> &'static str {
    match locale {
        Some(l) if l.starts_with("ja") => "ja",
        _ => "en",
    }
}

/// What follows a label (`lesson: `): a full-width colon in Japanese, which joins no sentences.
pub fn sep(lang: &str) -> &'static str {
    if lang == "ja" {
        "："
    } else {
        ": "
    }
}

/// A label's colon with nothing after it (`<b>lesson:</b>`): full-width in Japanese.
pub fn colon(lang: &str) -> &'static str {
    sep(lang).trim_end()
}

/// `text` in parentheses after what precedes it: ` (text)` in English, `（text）` in Japanese,
/// whose full-width parentheses take no space before them.
pub fn paren(lang: &str, text: &str) -> String {
    if lang == "ja" {
        format!("（{text}）")
    } else {
        format!(" ({text})")
    }
}

/// The UI string `key` in `lang` (falls back to English, then to the key itself).
pub fn t(lang: &str, key: &'static str) -> &'static str {
    match STRINGS.iter().find(|(k, _, _)| *k == key) {
        Some((_, _, ja)) if lang == "ja" && !ja.is_empty() => ja,
        Some((_, en, _)) => en,
        None => key,
    }
}

/// Every UI string as `(key, English, Japanese)`, for checks that walk the whole catalogue
/// (`tests/japanese.rs`: one register, full-width punctuation, no English left in Japanese).
pub fn entries() -> &'static [(&'static str, &'static str, &'static str)] {
    STRINGS
}

/// `(key, English, Japanese)`. Verdict words stay short: they sit in narrow table cells and in
/// presenter tiles. `????` is the same in both languages on purpose: it is what the attacker's
/// screen literally shows.
const STRINGS: &[(&str, &str, &str)] = &[
    // Verdict words (cells, tiles).
    ("leak", "LEAK", "漏洩"),
    ("unreadable", "????", "????"),
    ("absent", "absent", "除外"),
    ("not-found", "not found", "未検出"),
    ("n/a", "n/a", "対象外"),
    // A path that applies but cannot run on this host: English says n/a for both, Japanese
    // keeps 対象外 (does not apply) apart from 実行不可 (cannot run here).
    ("n/a.host", "n/a", "実行不可"),
    // Before any victim starts, when the running confidump is linked dynamically.
    ("static.building", "building the static confidump that containers and VM guests run: first run only, about 1–2 min", "コンテナと VM のゲストが使う静的リンク版 confidump をビルドしている（初回のみ、1〜2 分）"),
    ("error", "error", "エラー"),
    ("fragments", "fragments", "断片のみ"),
    ("expected", "expected", "期待値"),
    ("mismatch.note", "✗ expected {x}", "✗ 期待値：{x}"),
    ("required.note", "✗ required, but it cannot run here", "✗ 必須だがこのホストでは実行できない"),
    // Table chrome.
    ("scenario", "scenario", "シナリオ"),
    ("lesson", "lesson", "教訓"),
    ("columns", "Columns (how the attacker gets at memory):", "列（攻撃者がメモリを手に入れる経路）："),
    ("rows", "Rows: where and how the victim holds its secret.", "行：標的プロセスが秘密をどこに、どう持っているか。"),
    ("attack.dump", "confidump writes a core dump of the running program", "confidump が実行中のプログラムのコアダンプを書き出す"),
    ("attack.gcore", "gdb's gcore writes a core dump, as an admin would", "管理者がよく使う gdb の gcore でコアダンプを取る"),
    ("attack.kernel", "the kernel writes a core dump when the program crashes", "プログラムがクラッシュしたとき、カーネルがコアダンプを書き出す"),
    ("attack.live", "root reads the memory directly while it runs", "root が実行中のプロセスのメモリを直接読む"),
    ("attack.qmp", "the hypervisor dumps the VM guest's memory (QMP dump-guest-memory), as a cloud operator can", "クラウド事業者と同じく、ハイパーバイザーから VM ゲストのメモリをダンプする（QMP の dump-guest-memory）"),
    ("attack.wire", "the host reads what the guest sent out on its serial console", "ゲストがシリアルコンソールに送り出したデータをホストが読む"),
    ("attack.same-uid", "an ordinary user with the victim's uid, not root, reads it", "root ではなく、標的プロセスと同じ uid の一般ユーザーが読む"),
    ("attack.checkpoint", "CRIU checkpoints the container to disk (runc checkpoint), every page of it", "CRIU がコンテナのチェックポイントを取り、全ページをディスクに書き出す（runc checkpoint）"),
    ("attack.disk", "the database's data directory is read after a CHECKPOINT, as a stolen disk or backup gives it", "CHECKPOINT の後にデータベースのデータディレクトリを読む（盗まれたディスクやバックアップと同じ）"),
    ("attack.client", "root dumps and reads the database client's process (the application)", "root がデータベースのクライアント（アプリケーション）のプロセスをダンプし、読む"),
    ("legend", "Legend:", "凡例："),
    ("legend.leak", "the secret was found in what the attacker got", "攻撃者が得たデータから秘密が見つかった"),
    ("legend.unreadable", "a read was refused by a real mechanism (the kernel said no)", "カーネル（または CPU）が読み取りを拒否した"),
    ("legend.absent", "the tool left the region out of its dump: proves nothing", "ツールが領域を書き出さなかっただけで、守られている証拠にはならない"),
    ("legend.n/a", "this attack does not apply to the row, or cannot run on this host (the reason is given)", "この経路はこのシナリオに当てはまらない（理由を添える）"),
    ("legend.n/a.host", "this attack cannot run on this host (the reason is given)", "このホストでは実行できない（理由を添える）"),
    ("legend.not-found", "read, but the secret was not there", "読めたが、秘密は見つからなかった"),
    ("legend.met", "as the scenario expects", "シナリオの期待どおり"),
    ("legend.mismatch", "the result differs from what the scenario expects", "シナリオの期待値と結果が異なる"),
    ("stand-in", "stand-in for", "の代わり"),
    ("unavailable", "not available here", "この環境では利用不可"),
    ("detections", "Found without being told the secret (detectors):", "秘密を知らされずに見つけたもの（検出器）："),
    ("detections.unit", "secrets", "件"),
    ("det.card-number.one", "card number", "カード番号"),
    ("det.card-number.many", "card numbers", "カード番号"),
    ("det.pem-private-key.one", "PEM private key", "PEM 秘密鍵"),
    ("det.pem-private-key.many", "PEM private keys", "PEM 秘密鍵"),
    ("det.jwt.one", "JWT", "JWT"),
    ("det.jwt.many", "JWTs", "JWT"),
    ("det.aws-access-key-id.one", "AWS access key id", "AWS アクセスキー ID"),
    ("det.aws-access-key-id.many", "AWS access key ids", "AWS アクセスキー ID"),
    ("det.canary.one", "canary", "カナリア"),
    ("det.canary.many", "canaries", "カナリア"),
    ("detections.one", "secret", "件"),
    ("all-met", "all {n} cells as expected", "全 {n} セルが期待どおり"),
    ("mismatches", "{m} mismatches (of {n} cells)", "期待と異なる結果：{m} 件（全 {n} セル中）"),
    ("mismatch.one", "1 mismatch (of {n} cells)", "期待と異なる結果：1 件（全 {n} セル中）"),
    ("no-cells", "nothing ran", "実行した項目はない"),
    // HTML report.
    ("html.title", "confidump: what a memory dump gives away", "confidump：メモリダンプから何が漏れるか"),
    ("html.host", "Host", "ホスト"),
    ("html.kernel", "kernel", "カーネル"),
    ("html.hostname", "hostname", "ホスト名"),
    ("html.uid", "attacker uid", "攻撃者の uid"),
    ("html.memfd_secret", "memfd_secret usable", "memfd_secret が使える"),
    ("html.gcore", "gdb's gcore found", "gdb の gcore あり"),
    ("html.core_pattern", "core_pattern", "core_pattern"),
    ("html.version", "confidump", "confidump"),
    ("html.duration", "run time", "実行時間"),
    ("html.yes", "yes", "はい"),
    ("html.no", "no", "いいえ"),
    ("html.matrix", "The matrix", "結果の一覧"),
    ("html.views", "What the attacker saw", "攻撃者に見えたもの"),
    ("html.holds", "The victim holds", "標的プロセスが持っているもの"),
    ("html.no-view", "no bytes captured for this row", "この行ではバイト列を取得していない"),
    ("html.hex-legend", "highlighted: the secret's bytes · ??: the read was refused or the bytes were not in the dump", "強調表示：秘密のバイト · ??：読み取りを拒否された、またはダンプに含まれないバイト"),
    ("html.command", "command", "コマンド"),
    // Presenter mode.
    ("present.holds", "The victim holds", "標的プロセスが持っているもの"),
    ("present.enter", "Enter ▸ continue   q + Enter ▸ quit", "Enter ▸ 次へ   q + Enter ▸ 終了"),
    ("present.attacker-runs", "The attacker runs:", "攻撃者が実行するコマンド："),
    ("present.running", "running", "実行中"),
    ("present.sees", "What the attacker sees:", "攻撃者に見えるもの："),
    ("present.view", "The bytes:", "実際のバイト列："),
    ("present.done", "End of the demo.", "デモはここまで。"),
    ("present.quit", "Stopped early.", "途中で終了した。"),
    ("present.no-result", "no result from this scenario", "このシナリオの結果はない"),
    // Added for issue 8 (fit the screen, absent vs refused bytes): new keys only.
    ("columns.hidden", "Columns not shown (no row here runs them):", "表示していない列（この実行ではどの行も実行しない）："),
    ("detections.canaries", "Why more than one canary: the detectors found copies of the one canary, at the places after the dash: where the victim keeps its secret, the working copy it makes each time it uses it, and what a thread's stack keeps of that work; for argv, the kernel's copy of the command line on [stack] and a copy made while parsing it on [heap].", "カナリアが複数ある理由：同じカナリアのコピーが複数見つかったため（場所は「—」の後）。標的プロセスが秘密を保管している場所、使うたびに作る作業用のコピー、その処理でスレッドのスタックに残ったものだ。argv の場合は、カーネルが [stack] に置いたコマンドラインのコピーと、引数の解析中に [heap] にできたコピーである。"),
    ("hex.refused", "the read was refused: the kernel (or the CPU) said no", "読み取りが拒否されたバイト（カーネルまたは CPU が拒否した）"),
    ("hex.absent", "not in the dump: the tool left these bytes out without reading them (proves nothing)", "ダンプに含まれないバイト（ツールが読まずに除外しただけで、保護の証明にはならない）"),
    ("hex.highlight", "highlighted: the secret's bytes", "強調表示：秘密のバイト"),
    ("html.summary", "Summary", "まとめ"),
    ("html.mismatched", "Cells not as expected:", "期待と異なるセル："),
    ("html.row-notes", "why n/a", "対象外・実行不可の理由"),
    // doctor, and doctor --platform NAME.
    ("doctor.yes", "yes", "可"),
    ("doctor.no", "no", "不可"),
    ("doctor.all-rows", "Every demo row runs on this host.", "デモの全行がこのホストで実行できる。"),
    ("doctor.na-rows", "Demo rows that will be n/a on this host (the demo's own reasons):", "このホストで実行不可になるデモの行（理由はデモと同じ）："),
    ("doctor.platform", "platform {name}", "プラットフォーム {name}"),
    ("doctor.rows", "rows", "行"),
    ("doctor.requires-nothing", "{name} requires nothing of this host", "{name} がこのホストに求めるものはない"),
    ("doctor.has-all", "this host has everything {name} requires", "{name} が求めるものはすべてこのホストにある"),
    ("doctor.lacks", "this host lacks {m} of the {n} capabilities {name} requires", "{name} が求める {n} 個の機能のうち、{m} 個がこのホストにない"),
    ("list.sep", ", ", "、"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_string_has_both_languages() {
        for (k, en, ja) in STRINGS {
            assert!(!en.is_empty() && !ja.is_empty(), "{k} lacks a translation");
        }
        let mut keys: Vec<_> = STRINGS.iter().map(|(k, _, _)| *k).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), STRINGS.len(), "duplicate keys");
    }

    #[test]
    fn lookup_and_fallbacks() {
        assert_eq!(t("en", "leak"), "LEAK");
        assert_eq!(t("ja", "leak"), "漏洩");
        assert_eq!(t("fr", "leak"), "LEAK");
        assert_eq!(t("ja", "no-such-key"), "no-such-key");
    }

    #[test]
    fn locale_names() {
        assert_eq!(lang_of_locale(Some("ja_JP.UTF-8")), "ja");
        assert_eq!(lang_of_locale(Some("ja")), "ja");
        assert_eq!(lang_of_locale(Some("C.UTF-8")), "en");
        assert_eq!(lang_of_locale(None), "en");
    }
}
