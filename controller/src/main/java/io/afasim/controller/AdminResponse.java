package io.afasim.controller;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One admin response: ok or refused, a one-line message (empty when none) and records. Each record is an ordered
 * map whose first key is {@code kind}; one response may carry records of several kinds (several tables).
 */
public final class AdminResponse
{
    public static final String KIND_KEY = "kind";

    private final boolean ok;
    private final String message;
    private final List<Map<String, String>> records;

    private AdminResponse(final boolean ok, final String message, final List<Map<String, String>> records)
    {
        this.ok = ok;
        this.message = Objects.requireNonNull(message, "message");
        final List<Map<String, String>> copy = new ArrayList<>(records.size());
        for (final Map<String, String> record : records)
        {
            copy.add(Collections.unmodifiableMap(new LinkedHashMap<>(record)));
        }
        this.records = Collections.unmodifiableList(copy);
    }

    public static AdminResponse ok(final List<Map<String, String>> records)
    {
        return new AdminResponse(true, "", records);
    }

    public static AdminResponse ok(final String message, final List<Map<String, String>> records)
    {
        return new AdminResponse(true, message, records);
    }

    /** Any response; an error response needs a message. */
    public static AdminResponse of(final boolean ok, final String message, final List<Map<String, String>> records)
    {
        if (!ok && message.isBlank())
        {
            throw new IllegalArgumentException("an error response needs a message");
        }
        return new AdminResponse(ok, message, records);
    }

    /** A refusal: the message says what was refused and why, in one human line. */
    public static AdminResponse error(final String message)
    {
        if (message.isBlank())
        {
            throw new IllegalArgumentException("an error response needs a message");
        }
        return new AdminResponse(false, message, List.of());
    }

    /** A record {@code kind=KIND} followed by alternating keys and values, in that order. */
    public static Map<String, String> record(final String kind, final String... keysAndValues)
    {
        if (keysAndValues.length % 2 != 0)
        {
            throw new IllegalArgumentException("keys and values must come in pairs, got " + keysAndValues.length);
        }
        final LinkedHashMap<String, String> record = new LinkedHashMap<>();
        record.put(KIND_KEY, kind);
        for (int i = 0; i < keysAndValues.length; i += 2)
        {
            if (record.put(keysAndValues[i], Objects.requireNonNull(keysAndValues[i + 1], keysAndValues[i])) != null)
            {
                throw new IllegalArgumentException("duplicate key '" + keysAndValues[i] + "'");
            }
        }
        return record;
    }

    public boolean isOk()
    {
        return ok;
    }

    /** The message of the status line; empty when there is none. */
    public String message()
    {
        return message;
    }

    /** All records in response order; unmodifiable, each an unmodifiable ordered map. */
    public List<Map<String, String>> records()
    {
        return records;
    }

    /** The records of one kind, in response order. */
    public List<Map<String, String>> records(final String kind)
    {
        final List<Map<String, String>> matching = new ArrayList<>();
        for (final Map<String, String> record : records)
        {
            if (kind.equals(record.get(KIND_KEY)))
            {
                matching.add(record);
            }
        }
        return matching;
    }

    /** The record kinds present, in order of first appearance. */
    public List<String> kinds()
    {
        final List<String> kinds = new ArrayList<>();
        for (final Map<String, String> record : records)
        {
            final String kind = record.get(KIND_KEY);
            if (!kinds.contains(kind))
            {
                kinds.add(kind);
            }
        }
        return kinds;
    }

    @Override
    public boolean equals(final Object other)
    {
        if (!(other instanceof AdminResponse))
        {
            return false;
        }
        final AdminResponse that = (AdminResponse)other;
        return ok == that.ok && message.equals(that.message) && records.equals(that.records);
    }

    @Override
    public int hashCode()
    {
        return Objects.hash(ok, message, records);
    }

    @Override
    public String toString()
    {
        return (ok ? "ok" : "error") + (message.isEmpty() ? "" : " " + message) + " " + records;
    }
}
