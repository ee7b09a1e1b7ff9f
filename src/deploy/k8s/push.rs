//! The `push` step of a cluster deploy: the bundle's images into the
//! registry (see `crate::registry`), its lines in the `registry` pane and
//! its bytes as image progress.

use super::REGISTRY;
use crate::deploy::{Run, StepError};
use crate::event::Event;
use crate::i18n::Msg;
use crate::registry::{PushEvent, Registry, mb, push, survey};

/// Pushes what the registry lacks; `changed` when anything was written.
pub(super) async fn push_images(
    run: &Run<'_>,
    registry: Option<&Registry>,
) -> Result<bool, StepError> {
    let Some(reg) = registry else {
        return Err(Msg::new("deploy.k8s.no-registry").into());
    };
    let (wanted, files) = crate::registry::cluster_images(run.input.bundle);
    let user = reg.user.as_deref();
    let failed = |e: crate::registry::RegistryError| StepError::from(e.message(&reg.prefix, user));
    let logs = &run.ctx.logs;
    let plan = survey(reg, &files, &wanted, true).await.map_err(failed)?;
    logs.log(
        REGISTRY,
        &format!(
            "{}: {} images; {} of {} to send ({} of {} blobs missing)",
            reg.prefix,
            plan.targets.len(),
            mb(plan.send),
            mb(plan.bytes),
            plan.blobs_missing,
            plan.blobs
        ),
    );
    if plan.nothing_to_do() {
        logs.log(
            REGISTRY,
            "every image is in the registry already: nothing sent",
        );
        return Ok(false);
    }
    let tx = run.ctx.tx.clone();
    let progress = |e: PushEvent| match e {
        PushEvent::Log(line) => logs.log(REGISTRY, &line),
        PushEvent::Bytes { sent, total } => {
            if let Some(tx) = &tx {
                let _ = tx.try_send(Event::ImageProgress {
                    host: REGISTRY.into(),
                    sent,
                    total,
                });
            }
        }
    };
    let done = push(reg, &plan, &progress, &run.ctx.cancel)
        .await
        .map_err(failed)?;
    logs.log(
        REGISTRY,
        &format!(
            "sent {} in {} blobs, mounted {}, wrote {} manifests",
            mb(done.sent_bytes),
            done.sent_blobs,
            done.mounted_blobs,
            done.manifests
        ),
    );
    Ok(true)
}
