//! Taking one host out of the platform and back: its components'
//! containers stopped all at once with no grace (as a power loss would;
//! Docker marks them stopped, so its restart policy leaves them down), then
//! started again in dependency order. Nothing else on the host changes: a
//! deploy run starts what a drill that was killed left stopped.

use bollard::Docker;
use bollard::query_parameters::StartContainerOptions;

use crate::bundle::Component;
use crate::deploy::container;

/// Stops every container of `components` on the host at once.
pub async fn take_out(docker: &Docker, components: &[&Component]) -> Result<(), String> {
    let stops = components
        .iter()
        .map(|c| container::stop(docker, &c.name, 0));
    let failed: Vec<String> = futures_util::future::join_all(stops)
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

/// Starts the containers of `components` again, in their order.
pub async fn bring_back(docker: &Docker, components: &[&Component]) -> Result<(), String> {
    for c in components {
        let name = container::name(&c.name);
        match docker
            .start_container(&name, None::<StartContainerOptions>)
            .await
        {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => {}
            Err(e) => return Err(format!("start {name}: {e}")),
        }
    }
    Ok(())
}
