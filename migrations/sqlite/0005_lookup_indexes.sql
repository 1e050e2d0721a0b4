-- Lookups that scanned a whole table: the simulator finds a delivery by its
-- recipient when a read receipt comes back.
CREATE INDEX sim_deliveries_recipient ON sim_deliveries (to_jid, message_id);
