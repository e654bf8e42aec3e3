//! Graph objects by id: which kind of object an id names, read and deleted
//! through `GET|DELETE /{id}`. Each kind answers with its own [`Reply`]; an id
//! that names nothing is Graph's unknown object
//! (<https://developers.facebook.com/docs/graph-api/using-graph-api/error-handling>).

use super::numbers::Fields;
use super::refusal::{Object, Refusal};
use super::time::SimTime;
use super::{Reply, World};

impl World {
    /// `GET /{id}`: the object the id names, with the `fields` asked for (a field
    /// its node type lacks is refused; templates read theirs in the answer).
    pub(super) fn get_object(
        &self,
        now: SimTime,
        id: &str,
        fields: &Fields,
    ) -> Result<Reply, Refusal> {
        if let Some(template) = self.templates.iter().find(|t| t.id == id) {
            return Ok(Reply::Template {
                template: Box::new(template.clone()),
                unix_now: self.unix_seconds(now),
            });
        }
        if let Some(reply) = self.get_number_or_waba(id, fields) {
            return reply;
        }
        Err(Refusal::not_found(Object::Template, id))
    }

    /// `DELETE /{id}`: deletes the object the id names, where Graph deletes that
    /// kind by id.
    pub(super) fn delete_object(&mut self, id: &str) -> Result<Reply, Refusal> {
        Err(Refusal::not_found(Object::Template, id))
    }
}
