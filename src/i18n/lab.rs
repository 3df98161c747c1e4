//! The lab's own words in English and Japanese (exercise texts live in the exercise files).

/// The string `key` in `lang` (falls back to English, then to the key).
pub fn t(lang: &str, key: &'static str) -> &'static str {
    match WORDS.iter().find(|(k, _, _)| *k == key) {
        Some((_, _, ja)) if lang == "ja" && !ja.is_empty() => ja,
        Some((_, en, _)) => en,
        None => key,
    }
}

/// Every lab word as `(key, English, Japanese)`, for checks that walk the whole table
/// (`tests/japanese.rs`).
pub fn entries() -> &'static [(&'static str, &'static str, &'static str)] {
    WORDS
}

/// `(key, English, Japanese)`.
const WORDS: &[(&str, &str, &str)] = &[
    ("exercise", "Exercise", "演習"),
    ("victim", "target process", "標的プロセス"),
    ("goal", "goal", "目標"),
    ("goal.answer", "find the secret and submit it", "秘密を見つけて提出する"),
    ("goal.prove-unreadable", "show that the secret cannot be read, and prove it with a core dump", "秘密が読めないことを確かめ、コアダンプで証明する"),
    ("goal.prove-absent-then-answer", "prove that the server never holds the secret (a core of its backend), then find where the secret does live", "サーバーが秘密を一度も持たないことを（バックエンドのコアで）証明し、秘密が実際にある場所を見つける"),
    ("shape", "the secret looks like", "秘密の形"),
    ("tools", "tools", "使うツール"),
    ("task", "task", "課題"),
    ("submit.answer", "When you have it:   confidump lab check SECRET   (or --file FILE)", "見つけたら：  confidump lab check 秘密   （または --file ファイル）"),
    ("submit.proof", "When you can prove it:   confidump lab check --file CORE", "証明できたら：  confidump lab check --file コアファイル"),
    ("submit.both", "Two parts, each checked:   confidump lab check --file CORE   and   confidump lab check SECRET", "二つの課題をそれぞれ提出する：  confidump lab check --file コアファイル   と   confidump lab check 秘密"),
    ("right.part", "Right: that is the secret", "正解。それが秘密だ"),
    ("solved.both", "Both parts done. Exercise solved", "二つの課題を終えた。演習を達成した"),
    ("todo.proof", "Still to do: prove that the server never held the secret: confidump lab check --file CORE-OF-THE-BACKEND", "残りの課題：サーバーが秘密を一度も持たなかったことを証明する（confidump lab check --file バックエンドのコア）"),
    ("todo.answer", "Still to do: find where the secret does live: confidump lab check SECRET", "残りの課題：秘密が実際にある場所を見つける（confidump lab check 秘密）"),
    ("stuck", "Stuck?   confidump lab hint", "行き詰まったら：  confidump lab hint"),
    ("right", "Right. Exercise solved", "正解。演習を達成した"),
    ("wrong", "Not the secret", "秘密ではない"),
    ("tries", "attempts", "回答回数"),
    ("proof.accepted", "Proof accepted", "証明を受理した"),
    ("proof.rejected", "Not a proof", "証明になっていない"),
    ("next", "Next exercise unlocked", "次の演習が解放された"),
    ("all.done", "Every exercise is solved.", "すべての演習を達成した。"),
    ("hint", "Hint", "ヒント"),
    ("no.more.hints", "No more hints: this was the last one.", "ヒントはこれで最後。"),
    ("locked", "locked", "未解放"),
    ("open", "open", "挑戦可能"),
    ("running", "running", "実行中"),
    ("solved", "solved", "達成"),
    ("state", "state", "状態"),
    ("hints", "hints", "ヒント"),
    ("time", "time", "時間"),
    ("stopped", "stopped the target process", "標的プロセスを停止した"),
    ("reset.done", "Lab reset: every target process stopped, progress cleared.", "ラボをリセットした。標的プロセスをすべて停止し、進捗を消去した。"),
    ("solution", "Reference solution", "模範解答"),
    ("answer.found", "answer found", "見つかった答え"),
    ("proof.file", "proof", "証明"),
    ("not.started", "No exercise started yet: confidump lab start NAME (confidump lab list shows them)", "まだ演習を始めていない。confidump lab start 名前 で始める（一覧は confidump lab list）"),
    // Lines that put words together: the punctuation is the language's (full-width in Japanese).
    ("head", "{label} {i}/{n}: {title}  ({name})", "{label} {i}/{n}：{title}（{name}）"),
    ("titled", "{label}: {title}  ({name})", "{label}：{title}（{name}）"),
    ("victim.line", "{label}: pid {pid}  ({context}, {mode})", "{label}：pid {pid}（{context}、{mode}）"),
    ("verdict.line", "{head}: {name} ({tries}: {n})", "{head}：{name}（{tries}：{n}）"),
    ("verdict.no", "{head} ({tries}: {n})", "{head}（{tries}：{n}）"),
    ("shape.text", "CONFIDUMP- + 24 hex digits", "CONFIDUMP- に続く 16 進数 24 桁"),
    ("exit.failure", "(exit status: failure)", "（終了ステータス：失敗）"),
    ("trainee", "trainee", "受講者"),
    ("report.total", "{t} trainees, {s} of {n} exercises solved", "受講者 {t} 人、演習 {n} 件中 {s} 件を達成"),
    ("locked.why", "is locked: solve the exercise before it first (instructors: --any-order)", "は未解放。先に前の演習を達成すること（講師は --any-order で解除できる）"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_has_japanese() {
        for (k, en, ja) in WORDS {
            assert!(!en.is_empty() && !ja.is_empty(), "{k}");
        }
        assert_eq!(t("ja", "solved"), "達成");
        assert_eq!(t("en", "solved"), "solved");
    }
}
