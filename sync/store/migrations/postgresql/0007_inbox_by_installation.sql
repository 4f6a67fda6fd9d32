-- When each webhook topic of an installation last arrived (its status page and API) is a MAX
-- over this index's prefix: one index probe per topic instead of a scan of the inbox.
CREATE INDEX inbox_installation_topic ON inbox (installation_id, source, topic, received_at);
