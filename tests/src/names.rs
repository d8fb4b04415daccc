//! The NATS names of a deployment with the default prefix, spelled out as producers and
//! consumers outside photosync see them: a test that uses them also checks that the default
//! names have not changed.

pub const PHOTO_UPLOADED: &str = "photosync.photo.uploaded";
pub const DIRECTORY_CHANGED: &str = "photosync.directory.changed";
pub const PHOTO_CHANGED: &str = "photosync.photo.changed";
pub const EVENTS_STREAM: &str = "PHOTOSYNC_EVENTS";
pub const RESULTS_STREAM: &str = "PHOTOSYNC_RESULTS";
pub const CHANGES_STREAM: &str = "PHOTOSYNC_CHANGES";
pub const DEAD_STREAM: &str = "PHOTOSYNC_DEAD";
pub const CONSUMER: &str = "photosync-workers";
pub const PHOTOS_BUCKET: &str = "photosync-photos";
pub const STATE_BUCKET: &str = "photosync-state";

#[test]
fn these_are_the_names_photosync_gives_the_default_deployment() {
    let n = photosync::names::Names::default();
    let ours = [
        PHOTO_UPLOADED,
        DIRECTORY_CHANGED,
        PHOTO_CHANGED,
        EVENTS_STREAM,
        RESULTS_STREAM,
        CHANGES_STREAM,
        DEAD_STREAM,
        CONSUMER,
        PHOTOS_BUCKET,
        STATE_BUCKET,
    ];
    let theirs = [
        &n.photo_uploaded,
        &n.directory_changed,
        &n.photo_changed,
        &n.events_stream,
        &n.results_stream,
        &n.changes_stream,
        &n.dead_stream,
        &n.workers_consumer,
        &n.photos_bucket,
        &n.state_bucket,
    ];
    assert_eq!(ours.to_vec(), theirs.map(String::as_str).to_vec());
}
