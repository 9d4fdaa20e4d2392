"""The cold chain in the cloud (issue 17, decision 0027): zones' samples kept for a year, the
bank's excursions as alarms, and each chilled or frozen parcel's trace from deposit to pickup.

The classes, their ranges and excursion durations are ``locker_contract.cold``'s, never restated.
"""
