-- The read API's one index of its own (read/stats.ts, `days` with `kind`): one kind's days in
-- order. The primary key (day, kind) would read every kind of every day of the page to find
-- them (a few thousand kinds a day).
CREATE INDEX day_kind_stats_kind_day ON day_kind_stats (kind, day);
