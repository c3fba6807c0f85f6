//! Flow tests that cross flows (each flow's own tests sit beside it).

mod google;
mod oauth2;
