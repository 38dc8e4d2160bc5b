//! Placing a step: ask the build's placer for a worker; while none fits, say so once in the
//! step's log and wait for a change, until the step is cancelled.

use crate::event::{BuildEvent, Origin, now_unix};
use crate::exec::{Exec, StepError};
use crate::placer::{Placement, StepNeeds, StepWorker};

/// The worker `needs` runs on, announced with a `selected-worker` event.
pub(crate) async fn place_step(exec: &Exec, needs: &StepNeeds) -> Result<StepWorker, StepError> {
    let mut waiting = false;
    loop {
        if exec.cancel.is_cancelled() {
            return Err(StepError::Interrupted);
        }
        match exec
            .env
            .placer
            .place(needs)
            .await
            .map_err(StepError::Errored)?
        {
            Placement::Placed(worker) => {
                exec.emit(BuildEvent::SelectedWorker {
                    origin: Origin::step(&needs.plan_id),
                    worker: worker.name().to_owned(),
                    time: now_unix(),
                })
                .await;
                return Ok(worker);
            }
            Placement::NoneFits(reason) if !waiting => {
                waiting = true;
                exec.emit(BuildEvent::WaitingForWorker {
                    origin: Origin::step(&needs.plan_id),
                    time: now_unix(),
                })
                .await;
                exec.emit(BuildEvent::Log {
                    origin: Origin {
                        id: needs.plan_id.clone(),
                        source: Some("stderr"),
                    },
                    payload: format!("{reason}\n"),
                    time: now_unix(),
                })
                .await;
            }
            Placement::NoneFits(_) => {}
        }
        tokio::select! {
            () = exec.cancel.cancelled() => return Err(StepError::Interrupted),
            () = exec.env.placer.changed() => {}
        }
    }
}
