package io.afasim.journal;
