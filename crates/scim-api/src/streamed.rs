//! Answers that hold whole groups, written as their members are read: one group
//! (`GET /Groups/{id}`) or a page of them (`GET /Groups`, `POST /Groups/.search`). Memory stays
//! the size of a few chunks of members whatever the groups' sizes, and the first bytes leave
//! before the last members are read. An answer that fits in one buffer is sent whole, with
//! `Content-Length`.

use std::collections::VecDeque;

use actix_web::{http::header, web::Bytes, HttpResponse};
use futures_util::StreamExt;
use scim_model::{
    member_json::{split_members, MemberWriter, MembersSplit, MEMBERS_TAIL},
    projection::Projection,
    render::render,
    Resource, SchemaRegistry,
};
use scim_store::{MemberChunks, StoreError};

use crate::SCIM_JSON;

/// Bytes gathered before they are sent as one part of the answer.
const FLUSH: usize = 256 * 1024;

/// One group of the answer, rendered and projected: whole (as it is answered without
/// members), and split around its members when the projection returns them.
pub(crate) struct GroupParts {
    id: String,
    whole: Vec<u8>,
    split: Option<MembersSplit>,
}

impl GroupParts {
    /// The parts of `res` (read without members) as `projection` shapes it.
    pub(crate) fn of(
        registry: &SchemaRegistry,
        res: &Resource,
        base_url: &str,
        projection: &Projection,
    ) -> Self {
        let split = split_members(registry, res, base_url, projection);
        let whole = match &split {
            Some(split) => split.without_members(),
            None => serde_json::to_vec(&projection.apply(
                registry,
                res.kind,
                render(registry, res, base_url),
            ))
            .unwrap_or_default(),
        };
        Self {
            id: res.id.clone(),
            whole,
            split,
        }
    }
}

/// A part of a streamed answer, as the writing task hands it over.
enum Part {
    /// Bytes, and whether they are the last.
    Bytes(Bytes, bool),
    /// Reading failed: the answer must stop short.
    Failed,
}

fn cut_short() -> std::io::Error {
    std::io::Error::other("the answer was cut short")
}

/// Writes `prefix`, the groups separated by commas (each with its members), then `suffix`.
struct Writer {
    chunks: MemberChunks,
    groups: VecDeque<GroupParts>,
    /// The writer of the group whose members are being written.
    in_group: Option<MemberWriter>,
    first_group: bool,
    suffix: &'static [u8],
    buf: Vec<u8>,
    finished: bool,
}

impl Writer {
    /// Writes on until the buffer holds [`FLUSH`] bytes or everything is written.
    async fn fill(&mut self) -> Result<(), StoreError> {
        while !self.finished && self.buf.len() < FLUSH {
            if let Some(writer) = &self.in_group {
                match self.chunks.next_chunk().await? {
                    Some(members) => {
                        for m in &members {
                            writer.write(&mut self.buf, m, false);
                        }
                    }
                    None => {
                        self.buf.extend_from_slice(MEMBERS_TAIL);
                        self.in_group = None;
                    }
                }
                continue;
            }
            let Some(group) = self.groups.pop_front() else {
                self.buf.extend_from_slice(self.suffix);
                self.finished = true;
                break;
            };
            if !std::mem::take(&mut self.first_group) {
                self.buf.push(b',');
            }
            let Some(split) = group.split else {
                self.buf.extend_from_slice(&group.whole);
                continue;
            };
            self.chunks.start(&group.id);
            match self.chunks.next_chunk().await? {
                // No member: the group as it is answered without them.
                None => self.buf.extend_from_slice(&group.whole),
                Some(members) => {
                    self.buf.extend_from_slice(&split.head);
                    for (i, m) in members.iter().enumerate() {
                        split.writer.write(&mut self.buf, m, i == 0);
                    }
                    self.in_group = Some(split.writer);
                }
            }
        }
        Ok(())
    }

    fn take(&mut self) -> Bytes {
        Bytes::from(std::mem::take(&mut self.buf))
    }
}

/// The `200` answer: `prefix`, `groups` with their members from `chunks`, then `suffix`. The
/// first part is written before answering, so a read that fails there is an error answer; one
/// that fails later can only cut the answer short (its status is sent), and is logged. The
/// snapshot is let go after [`scim_store::SNAPSHOT_LIFETIME`] however slowly the client reads.
pub(crate) async fn answer(
    chunks: MemberChunks,
    groups: Vec<GroupParts>,
    prefix: Vec<u8>,
    suffix: &'static [u8],
    etag: Option<String>,
) -> Result<HttpResponse, StoreError> {
    let mut writer = Writer {
        chunks,
        groups: groups.into(),
        in_group: None,
        first_group: true,
        suffix,
        buf: prefix,
        finished: false,
    };
    writer.fill().await?;
    let mut ok = HttpResponse::Ok();
    ok.content_type(SCIM_JSON);
    if let Some(etag) = etag {
        ok.insert_header((header::ETAG, etag));
    }
    if writer.finished {
        return Ok(ok.body(writer.take()));
    }
    let first = writer.take();
    // The rest is written by a task of its own, one part ahead of the client. A client that
    // stops reading cannot hold the snapshot (a reader, or a PostgreSQL connection) for longer
    // than its lifetime: the task then gives up, and the answer is cut short, never ended as if
    // it were whole.
    let (parts, received) = tokio::sync::mpsc::channel::<Part>(1);
    let deadline = tokio::time::Instant::now() + scim_store::SNAPSHOT_LIFETIME;
    actix_web::rt::spawn(async move {
        loop {
            let part = match writer.fill().await {
                Ok(()) => Part::Bytes(writer.take(), writer.finished),
                Err(e) => {
                    tracing::error!(error = %e, "reading a streamed group's members failed");
                    Part::Failed
                }
            };
            let last = !matches!(part, Part::Bytes(_, false));
            match tokio::time::timeout_at(deadline, parts.send(part)).await {
                Ok(Ok(())) if !last => {}
                Ok(_) => break, // the last part, or the client went away
                Err(_) => {
                    tracing::warn!(
                        "a client read a streamed group too slowly; its answer was cut short"
                    );
                    break;
                }
            }
        }
    });
    let rest =
        futures_util::stream::unfold((received, false), |(mut received, ended)| async move {
            if ended {
                return None;
            }
            match received.recv().await {
                Some(Part::Bytes(bytes, last)) => Some((Ok(bytes), (received, last))),
                // Failed, or given up: an error ends the answer without its last chunk.
                Some(Part::Failed) | None => Some((Err(cut_short()), (received, true))),
            }
        });
    let first = futures_util::stream::once(async move { Ok::<_, std::io::Error>(first) });
    Ok(ok.streaming(first.chain(rest)))
}
