"""CloudTrail LookupEvents: the region's management event history, which the emulator does not keep.

OUR MODEL OF AWS, NOT AWS. moto 5.2.5 has no LookupEvents (it answers 500, which the SDK retries with
backoff, so every `watch` of a reopened cut waited on it). AWS answers from the region's 90-day event
history, whether or not a trail logs it
(https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html). The emulator records
no events, so this model answers with an empty history: `watch` then names no one, exactly as it does when
CloudTrail has nothing yet (events take up to about 15 minutes to appear). Who is named from real events is
tested with mocks of the documented answer (src/services/common/cloudtrail_who.rs).

Checked, as AWS documents: at most one lookup attribute (InvalidLookupAttributesException), MaxResults 1
to 50 (InvalidMaxResultsException), StartTime not after EndTime (InvalidTimeRangeException).
Left out: the events themselves, NextToken paging, EventCategory, the 2-requests-per-second limit.
"""

import json

from moto.cloudtrail.responses import CloudTrailResponse
from moto.core.exceptions import JsonRESTError


class LookupError_(JsonRESTError):
    code = 400


def install():
    def lookup_events(self) -> str:
        attributes = self._get_param("LookupAttributes") or []
        if len(attributes) > 1:
            raise LookupError_(
                "InvalidLookupAttributesException",
                "You cannot specify more than one lookup attribute.",
            )
        max_results = self._get_param("MaxResults")
        if max_results is not None and not 1 <= int(max_results) <= 50:
            raise LookupError_(
                "InvalidMaxResultsException", "MaxResults must be between 1 and 50."
            )
        start, end = self._get_param("StartTime"), self._get_param("EndTime")
        if start is not None and end is not None and float(start) > float(end):
            raise LookupError_(
                "InvalidTimeRangeException", "StartTime must be before EndTime."
            )
        return json.dumps({"Events": []})

    CloudTrailResponse.lookup_events = lookup_events
