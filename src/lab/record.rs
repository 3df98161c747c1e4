//! Checking a submission and recording its outcome in the trainee's state.

use std::path::Path;

use super::proof::{self, Outcome, Part, ProofError, Want};
use super::state::{self, Record, State, StateError};
use super::{launch, Exercise, Goal};
use crate::model::Texts;

/// Why a submission could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// Neither an answer nor a file.
    #[error("give the answer, or --file PATH")]
    Nothing,
    /// The file could not be checked.
    #[error(transparent)]
    Proof(#[from] ProofError),
}

/// What a submitted file is checked as, for an exercise's goal.
pub fn want_of(g: Goal) -> Want {
    match g {
        Goal::Answer => Want::Answer,
        Goal::ProveUnreadable => Want::UnreadableProof,
        Goal::ProveAbsentThenAnswer => Want::ServerProofOrAnswer,
    }
}

/// Checks a submission (`answer` or `file`) against `rec`, the record of an exercise with
/// `goal`: which part it was checked as, and the outcome.
pub fn judge(
    rec: &Record,
    goal: Goal,
    answer: Option<&str>,
    file: Option<&Path>,
) -> Result<(Part, Outcome), SubmitError> {
    let want = want_of(goal);
    Ok(match (answer, file) {
        (_, Some(f)) => proof::check_file(rec, rec.running.as_ref(), f, want)?,
        (Some(a), None) if want == Want::UnreadableProof => (
            Part::Proof,
            if proof::check_answer(rec, a) == Outcome::Accepted(Texts::default()) {
                Outcome::Rejected(Texts::new(
                    "that is the secret, but this exercise asks you to prove it cannot be read: submit the core with --file",
                    "それは秘密だが、この演習では読めないことを証明する。コアを --file で提出すること。",
                ))
            } else {
                Outcome::Rejected(Texts::new(
                    "this exercise asks for a core dump as proof: confidump lab check --file CORE",
                    "この演習ではコアダンプを証明として提出する：confidump lab check --file コアファイル",
                ))
            },
        ),
        (Some(a), None) => (Part::Answer, proof::check_answer(rec, a)),
        (None, None) => return Err(SubmitError::Nothing),
    })
}

/// What recording an outcome changed, for the caller to tell.
#[derive(Debug, Clone, Copy)]
pub struct Recorded<'a> {
    /// Submissions so far, this one included.
    pub attempts: u32,
    /// This part was accepted.
    pub accepted: bool,
    /// The exercise is solved now (both parts, for a two-part one).
    pub solved: bool,
    /// For a two-part exercise not yet solved: the lab word naming the part still to do.
    pub todo: Option<&'static str>,
    /// The exercise's target process was stopped.
    pub stopped: bool,
    /// The exercise after this one.
    pub next: Option<&'a Exercise>,
    /// Every exercise of `all` is solved.
    pub all_solved: bool,
    /// The reference solution was shown before this solve: it is not credited.
    pub after_shown: bool,
}

/// Records `outcome` of a check of `part` of `ex` (one of `all`) in `st`, saved in `dir`; a
/// solved exercise's target process is stopped.
pub fn record<'a>(
    all: &'a [Exercise],
    dir: &Path,
    st: &mut State,
    ex: &Exercise,
    part: Part,
    outcome: &Outcome,
) -> Result<Recorded<'a>, StateError> {
    let rec = st.exercises.entry(ex.name.clone()).or_default();
    rec.attempts = rec.attempts.saturating_add(1);
    let attempts = rec.attempts;
    let accepted = matches!(outcome, Outcome::Accepted(_));
    // A two-part exercise is solved when both of the current start's parts were accepted.
    let solved = if ex.goal == Goal::ProveAbsentThenAnswer {
        if accepted {
            let slot = match part {
                Part::Proof => &mut rec.proved,
                Part::Answer => &mut rec.answered,
            };
            slot.get_or_insert(state::now());
        }
        rec.proved.is_some() && rec.answered.is_some()
    } else {
        accepted
    };
    let todo = match (rec.proved.is_some(), rec.answered.is_some()) {
        _ if solved || ex.goal != Goal::ProveAbsentThenAnswer => None,
        (false, _) => Some("todo.proof"),
        (true, _) => Some("todo.answer"),
    };
    let mut stopped = false;
    let after_shown = solved && rec.solved.is_none() && rec.shown.is_some();
    if solved {
        rec.solved.get_or_insert(state::now());
        if let Some(r) = rec.running.take() {
            stopped = launch::stop(&r);
        }
    }
    st.save(dir)?;
    let i = all.iter().position(|e| e.name == ex.name).unwrap_or(0);
    let all_solved = all.iter().all(|e| {
        st.exercises
            .get(&e.name)
            .is_some_and(|r| r.solved.is_some())
    });
    Ok(Recorded {
        attempts,
        accepted,
        solved,
        todo,
        stopped,
        next: all.get(i + 1),
        all_solved,
        after_shown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_part(all: &[Exercise]) -> Exercise {
        let mut ex = all[0].clone();
        ex.goal = Goal::ProveAbsentThenAnswer;
        ex
    }

    #[test]
    fn a_two_part_exercise_is_solved_by_both_parts() {
        let all = crate::lab::builtin().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ex = two_part(&all);
        let mut st = State::default();
        let yes = Outcome::Accepted(Texts::default());
        let no = Outcome::Rejected(Texts::default());
        let r = record(&all, dir.path(), &mut st, &ex, Part::Answer, &no).unwrap();
        assert_eq!((r.attempts, r.accepted, r.solved), (1, false, false));
        assert_eq!(r.todo, Some("todo.proof"));
        let r = record(&all, dir.path(), &mut st, &ex, Part::Proof, &yes).unwrap();
        assert_eq!((r.attempts, r.accepted, r.solved), (2, true, false));
        assert_eq!(r.todo, Some("todo.answer"));
        let r = record(&all, dir.path(), &mut st, &ex, Part::Answer, &yes).unwrap();
        assert!(r.solved && r.todo.is_none() && !r.stopped && !r.all_solved);
        assert_eq!(r.next.map(|e| e.name.as_str()), Some(all[1].name.as_str()));
        assert!(st.exercises[&ex.name].solved.is_some());
        assert_eq!(State::load(dir.path()).unwrap(), st);
    }

    #[test]
    fn an_answer_is_not_proof() {
        let rec = Record::default();
        let (part, out) = judge(&rec, Goal::ProveUnreadable, Some("x"), None).unwrap();
        assert_eq!(part, Part::Proof);
        assert!(matches!(out, Outcome::Rejected(_)));
        let (part, _) = judge(&rec, Goal::Answer, Some("x"), None).unwrap();
        assert_eq!(part, Part::Answer);
        assert!(matches!(
            judge(&rec, Goal::Answer, None, None),
            Err(SubmitError::Nothing)
        ));
    }
}
