"""Ad-platform daily campaign rows: what the Google Ads and Facebook Ads extractors produce.

Both APIs are mapped onto this one row (Google's ``cost_micros`` becomes ``cost`` with six
decimals; Facebook's ``spend`` string becomes ``cost``), so everything after extraction sees one
shape. Each row names the account's currency and time zone: ``date`` is a day in that zone and
every amount is in that currency, as the platforms report them. Relations between columns
(clicks <= impressions) are quality checks, not validation: a platform's own numbers are stored
as reported and flagged, never dropped.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from watershed.contract.fields import AdCost, Count, Currency, Identifier, Money, Platform, TimeZoneName, req

CampaignName = Annotated[str, StringConstraints(min_length=1, max_length=256)]
AccountName = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class AdPlatformDailyRow(BaseModel):
    """One campaign's totals for one day on one ad platform."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: dt.date = req("date")
    platform: Platform = req("platform")
    account_id: Identifier = req("account_id")
    account_name: AccountName = req("account_name")
    campaign_id: Identifier = req("campaign_id")
    campaign_name: CampaignName = req("campaign_name")
    impressions: Count = req("impressions")
    clicks: Count = req("clicks")
    cost: AdCost = req("cost")
    conversions: float = req("conversions", ge=0)
    conversion_value: Money = req("conversion_value")
    currency: Currency = req("currency")
    time_zone: TimeZoneName = req("time_zone")
