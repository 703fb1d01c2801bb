"""What landing and the batch jobs share: the bronze row shape and its partition placement
(:mod:`.bronze`), the lake's configurable time, landing and session rules (:mod:`.lake_rules`),
and helpers over timestamp columns (:mod:`.time_columns`)."""
