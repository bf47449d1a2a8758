package io.afasim.dedup;
