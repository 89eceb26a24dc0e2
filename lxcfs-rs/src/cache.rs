//! A short-lived cache of rendered container views, so that a burst of reads of one file in
//! one container renders it once per [`VIEW_TTL`] instead of once per open.
//!
//! Bounds: an entry is served for at most [`VIEW_TTL`] after it was rendered, only to the
//! same container (same init process, same cgroup paths), for the same view, and only while
//! the limits the view depends on are unchanged — the watched ones by the generation of
//! [`crate::watch::LimitWatch`], the others read afresh by the caller at every open — so a
//! limit change such as `update --memory` shows at the very next read; entries older
//! than that are dropped at the next insertion, so the cache holds at most the (container,
//! view) pairs rendered within the last [`VIEW_TTL`], and never more than [`MAX_ENTRIES`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::render::{Container, Limits, ViewFile};
use crate::Result;

/// How stale the usage counters of a served view may be (its limits are never stale).
pub const VIEW_TTL: Duration = Duration::from_millis(100);

/// Hard cap on entries; reaching it empties the cache.
pub const MAX_ENTRIES: usize = 4096;

/// (init pid, init start time, view).
type Key = (i32, u64, ViewFile);

#[derive(Debug)]
struct Entry {
    rendered: Instant,
    container: Arc<Container>,
    limits: Limits,
    /// The watch generation the rendering is valid for; `None`: never reuse it.
    generation: Option<u64>,
    content: Arc<Vec<u8>>,
}

#[derive(Debug)]
pub struct ViewCache {
    ttl: Duration,
    entries: Mutex<HashMap<Key, Entry>>,
}

impl Default for ViewCache {
    fn default() -> Self {
        ViewCache::new(VIEW_TTL)
    }
}

impl ViewCache {
    pub fn new(ttl: Duration) -> Self {
        ViewCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The content of `view` for `container` rendered at most `ttl` before `now` under the
    /// same `limits` and for the current watch `generation`, else the content `render`
    /// returns with the generation it is valid for. Errors are never cached.
    pub fn get_or_render(
        &self,
        view: ViewFile,
        container: &Arc<Container>,
        limits: &Limits,
        generation: u64,
        now: Instant,
        render: impl FnOnce() -> Result<(Vec<u8>, Option<u64>)>,
    ) -> Result<Arc<Vec<u8>>> {
        let key = (container.init_pid, container.init_start_ticks, view);
        if let Some(entry) = self.lock().get(&key) {
            let fresh = now
                .checked_duration_since(entry.rendered)
                .is_some_and(|age| age < self.ttl);
            if fresh
                && entry.generation == Some(generation)
                && entry.limits == *limits
                && (Arc::ptr_eq(&entry.container, container) || *entry.container == **container)
            {
                return Ok(entry.content.clone());
            }
        }
        let (content, valid_for) = render()?;
        let content = Arc::new(content);
        let mut entries = self.lock();
        let ttl = self.ttl;
        entries.retain(|_, e| {
            now.checked_duration_since(e.rendered)
                .is_none_or(|age| age < ttl)
        });
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                rendered: now,
                container: container.clone(),
                limits: limits.clone(),
                generation: valid_for,
                content: content.clone(),
            },
        );
        Ok(content)
    }

    /// Number of cached views.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::ProcessCgroups;
    use std::cell::Cell;

    fn container(init_pid: i32, start: u64, memory: &str) -> Arc<Container> {
        Arc::new(Container {
            init_pid,
            init_start_ticks: start,
            cgroups: ProcessCgroups::parse(&format!("4:memory:{memory}\n")).unwrap(),
        })
    }

    fn none() -> Limits {
        Limits::default()
    }

    fn memory_limit(bytes: &str) -> Limits {
        Limits(vec![Some(format!("{bytes}\n")), None])
    }

    /// Renders "name-N", N counting the renders.
    fn renderer<'a>(
        count: &'a Cell<u32>,
        name: &'a str,
    ) -> impl FnOnce() -> Result<(Vec<u8>, Option<u64>)> + 'a {
        rendered_for(count, name, Some(0))
    }

    /// Like [`renderer`], the rendering valid for watch generation `generation`.
    fn rendered_for<'a>(
        count: &'a Cell<u32>,
        name: &'a str,
        generation: Option<u64>,
    ) -> impl FnOnce() -> Result<(Vec<u8>, Option<u64>)> + 'a {
        move || {
            count.set(count.get() + 1);
            Ok((format!("{name}-{}", count.get()).into_bytes(), generation))
        }
    }

    #[test]
    fn serves_one_render_within_the_ttl_then_renders_again() {
        let cache = ViewCache::new(Duration::from_millis(100));
        let c = container(10, 1, "/a");
        let renders = Cell::new(0);
        let t0 = Instant::now();
        let get = |at: Duration| {
            cache
                .get_or_render(
                    ViewFile::Meminfo,
                    &c,
                    &none(),
                    0,
                    t0 + at,
                    renderer(&renders, "m"),
                )
                .unwrap()
        };
        assert_eq!(*get(Duration::ZERO), b"m-1");
        assert_eq!(*get(Duration::from_millis(99)), b"m-1");
        assert_eq!(renders.get(), 1);
        // At the bound the entry is stale.
        assert_eq!(*get(Duration::from_millis(100)), b"m-2");
        assert_eq!(*get(Duration::from_millis(150)), b"m-2");
        assert_eq!(*get(Duration::from_millis(250)), b"m-3");
        assert_eq!(renders.get(), 3);
    }

    #[test]
    fn keyed_per_container_and_view() {
        let cache = ViewCache::new(Duration::from_secs(60));
        let renders = Cell::new(0);
        let now = Instant::now();
        let a = container(10, 1, "/a");
        let get = |view, c: &Arc<Container>| {
            cache
                .get_or_render(view, c, &none(), 0, now, renderer(&renders, "v"))
                .unwrap()
        };
        assert_eq!(*get(ViewFile::Meminfo, &a), b"v-1");
        assert_eq!(*get(ViewFile::Stat, &a), b"v-2");
        // Another container, a recycled init pid (other start time), and the same init moved
        // to another cgroup each get their own render.
        assert_eq!(*get(ViewFile::Meminfo, &container(11, 1, "/a")), b"v-3");
        assert_eq!(*get(ViewFile::Meminfo, &container(10, 2, "/a")), b"v-4");
        assert_eq!(*get(ViewFile::Meminfo, &container(10, 1, "/b")), b"v-5");
        // An equal container (a refreshed resolver entry) shares the latest render.
        assert_eq!(*get(ViewFile::Meminfo, &container(10, 1, "/b")), b"v-5");
        assert_eq!(*get(ViewFile::Stat, &a), b"v-2");
        assert_eq!(renders.get(), 5);
    }

    #[test]
    fn errors_are_not_cached_and_stale_entries_are_dropped() {
        let cache = ViewCache::new(Duration::from_millis(100));
        let t0 = Instant::now();
        let c = container(10, 1, "/a");
        let failed = cache.get_or_render(ViewFile::Meminfo, &c, &none(), 0, t0, || {
            Err(crate::Error::NoProcess(10))
        });
        assert!(failed.is_err());
        assert!(cache.is_empty());
        let renders = Cell::new(0);
        for pid in 0..50 {
            cache
                .get_or_render(
                    ViewFile::Stat,
                    &container(pid, 1, "/a"),
                    &none(),
                    0,
                    t0,
                    renderer(&renders, "s"),
                )
                .unwrap();
        }
        assert_eq!(cache.len(), 50);
        // One insertion after the TTL leaves only itself.
        cache
            .get_or_render(
                ViewFile::Stat,
                &c,
                &none(),
                0,
                t0 + Duration::from_millis(100),
                renderer(&renders, "s"),
            )
            .unwrap();
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn never_holds_more_than_the_cap() {
        let cache = ViewCache::new(Duration::from_secs(60));
        let now = Instant::now();
        for pid in 0..(MAX_ENTRIES as i32 + 10) {
            cache
                .get_or_render(
                    ViewFile::Stat,
                    &container(pid, 1, "/a"),
                    &none(),
                    0,
                    now,
                    || Ok((Vec::new(), Some(0))),
                )
                .unwrap();
            assert!(cache.len() <= MAX_ENTRIES);
        }
    }

    #[test]
    fn a_limit_change_is_rendered_at_the_next_read() {
        let cache = ViewCache::new(Duration::from_secs(60));
        let c = container(10, 1, "/a");
        let renders = Cell::new(0);
        let now = Instant::now();
        let get = |limits: &Limits| {
            cache
                .get_or_render(
                    ViewFile::Meminfo,
                    &c,
                    limits,
                    0,
                    now,
                    renderer(&renders, "m"),
                )
                .unwrap()
        };
        assert_eq!(*get(&memory_limit("268435456")), b"m-1");
        assert_eq!(*get(&memory_limit("268435456")), b"m-1");
        assert_eq!(*get(&memory_limit("536870912")), b"m-2");
        // Back to the first limit: the entry now holds the second rendering, so render again.
        assert_eq!(*get(&memory_limit("268435456")), b"m-3");
        assert_eq!(*get(&none()), b"m-4");
        assert_eq!(renders.get(), 4);
    }

    #[test]
    fn a_new_watch_generation_is_rendered_at_the_next_read() {
        let cache = ViewCache::new(Duration::from_secs(60));
        let c = container(10, 1, "/a");
        let renders = Cell::new(0);
        let now = Instant::now();
        let get = |current: u64, valid_for: Option<u64>| {
            cache
                .get_or_render(
                    ViewFile::Meminfo,
                    &c,
                    &none(),
                    current,
                    now,
                    rendered_for(&renders, "m", valid_for),
                )
                .unwrap()
        };
        // Rendered while the generation moved from 3 to 4: valid for 4 only.
        assert_eq!(*get(3, Some(4)), b"m-1");
        assert_eq!(*get(4, Some(4)), b"m-1");
        assert_eq!(*get(5, Some(5)), b"m-2");
        assert_eq!(*get(5, Some(5)), b"m-2");
        // A rendering whose files could not all be watched is never reused.
        assert_eq!(*get(6, None), b"m-3");
        assert_eq!(*get(6, None), b"m-4");
        assert_eq!(renders.get(), 4);
    }
}
