"""The synthetic turbine: one-minute readings driven by standard-normal noise.

Wind is the length of a slowly wandering 2-D wind vector (autocorrelated, Rayleigh/Weibull-like
with k ~ 2), power follows a power curve with cut-in, rated and cut-out speeds, and the
temperature has a daily cycle plus weather drift. The seeded period (`source_data`) and the
live feed (`readings_between`) both run this model; they differ only in where the noise comes
from.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd

from wind_pipeline.domain import MINUTES_PER_DAY, PowerCurve

# The model's independent noise series, in the order it uses them (the seed draws them so).
NOISE_STREAMS = 8
# A live day is computed from this many days before it: the slowest component (temperature,
# one-day correlation) keeps e^-3 (5 %) of older noise, so days join almost seamlessly.
WARMUP_DAYS = 3


def _ar1(noise: np.ndarray, minutes_correlation: float) -> np.ndarray:
    """A unit-variance AR(1) series with the given correlation time, computed by pandas' EWM."""
    alpha = 1.0 / minutes_correlation
    stationary_std = np.sqrt(alpha / (2.0 - alpha))
    noise = noise.copy()
    noise[0] *= stationary_std  # start in the stationary state, not with one raw shock
    smoothed = pd.Series(noise).ewm(alpha=alpha, adjust=False).mean().to_numpy()
    return smoothed / stationary_std


def turbine_model(
    timestamps: pd.DatetimeIndex, noise: np.ndarray, curve: PowerCurve | None = None
) -> pd.DataFrame:
    """The readings at `timestamps` (one a minute) from NOISE_STREAMS x n standard normals."""
    curve = curve or PowerCurve()
    u_slow, u_gust, v_slow, v_gust, speed_noise, power_noise, temp_slow, temp_noise = noise
    hours = timestamps.hour.to_numpy() + timestamps.minute.to_numpy() / 60.0

    # Wind vector: mean flow plus weather-scale (~6 h) and gust-scale (~10 min) wandering.
    u = 4.5 + 3.5 * _ar1(u_slow, 360) + 1.2 * _ar1(u_gust, 10)
    v = 2.0 + 3.5 * _ar1(v_slow, 360) + 1.2 * _ar1(v_gust, 10)
    diurnal = 1.0 + 0.12 * np.sin(2 * np.pi * (hours - 15.0) / 24.0)  # afternoon mixing
    wind_speed = np.hypot(u, v) * diurnal + 0.25 * np.abs(speed_noise)

    power = np.clip(curve(wind_speed) * (1.0 + 0.03 * power_noise), 0.0, curve.rated_power)
    temperature = (
        6.0
        + 4.0 * np.sin(2 * np.pi * (hours - 9.0) / 24.0)
        + 2.5 * _ar1(temp_slow, 1440)
        + 0.2 * temp_noise
    )
    return pd.DataFrame(
        {
            "timestamp": timestamps,
            "wind_speed": wind_speed.round(3),
            "power": power.round(2),
            "ambient_temperature": temperature.round(2),
        }
    )


def _day_noise(random_seed: int, day: date) -> np.ndarray:
    # Seeded by (seed, day): a day's noise never depends on when, or from where, it is asked for.
    rng = np.random.default_rng([random_seed, day.toordinal()])
    return rng.standard_normal((NOISE_STREAMS, MINUTES_PER_DAY))


def day_readings(day: date, random_seed: int) -> pd.DataFrame:
    """UTC day `day`'s 1,440 readings: a function of (day, seed) only, so repeatable."""
    first = day - timedelta(days=WARMUP_DAYS)
    noise = np.concatenate(
        [_day_noise(random_seed, first + timedelta(days=i)) for i in range(WARMUP_DAYS + 1)],
        axis=1,
    )
    start = datetime.combine(first, time(), UTC)
    timestamps = pd.date_range(start, periods=noise.shape[1], freq="min")
    return turbine_model(timestamps, noise).iloc[-MINUTES_PER_DAY:].reset_index(drop=True)


def readings_between(start: datetime, end: datetime, random_seed: int) -> pd.DataFrame:
    """The readings of every whole minute in [start, end), continuing the model at `start`."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware (UTC)")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    last = max(start, end - timedelta(minutes=1)).date()
    days = [start.date() + timedelta(days=i) for i in range((last - start.date()).days + 1)]
    frame = pd.concat([day_readings(day, random_seed) for day in days], ignore_index=True)
    inside = (frame["timestamp"] >= start) & (frame["timestamp"] < end)
    return frame[inside].reset_index(drop=True)
