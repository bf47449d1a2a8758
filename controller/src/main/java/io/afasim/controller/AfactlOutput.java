package io.afasim.controller;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Renders an {@link AdminResponse} for afactl: aligned tables for people, one JSON document for scripts.
 *
 * <p>Tables: one per record kind in order of first appearance (a {@code [kind]} title line when there are several);
 * columns are the keys of the first record of that kind (then keys first seen in later records), {@code kind}
 * left out; a missing value shows as {@code -}; values of keys ending in {@code Bytes} are shown as sizes
 * ({@code 4 GiB}); columns whose values are all numbers are right-aligned.
 *
 * <p>JSON: {@code {"ok":true,"message":"...","volume":[{...},...],"node":[...]}}, {@code message} only when the
 * response has one, one array per kind (a kind named {@code ok} or {@code message} becomes {@code kind.ok});
 * values that are JSON numbers are written unquoted, everything else as strings.
 */
public final class AfactlOutput
{
    private static final Pattern JSON_NUMBER = Pattern.compile("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?");
    private static final Pattern LONG = Pattern.compile("-?[0-9]{1,18}");
    private static final String COLUMN_GAP = "  ";
    private static final String MISSING = "-";

    private AfactlOutput()
    {
    }

    public static void printTables(final AdminResponse response, final PrintWriter out)
    {
        final List<String> kinds = response.kinds();
        if (!response.message().isEmpty())
        {
            out.println(response.message());
        }
        else if (kinds.isEmpty())
        {
            out.println(response.isOk() ? "ok" : "error");
        }
        for (int k = 0; k < kinds.size(); k++)
        {
            if (k > 0 || !response.message().isEmpty())
            {
                out.println();
            }
            if (kinds.size() > 1)
            {
                out.println("[" + kinds.get(k) + "]");
            }
            printTable(response.records(kinds.get(k)), out);
        }
        out.flush();
    }

    /** One aligned table of records of one kind. */
    static void printTable(final List<Map<String, String>> records, final PrintWriter out)
    {
        final List<String> columns = new ArrayList<>();
        for (final Map<String, String> record : records)
        {
            for (final String key : record.keySet())
            {
                if (!key.equals(AdminResponse.KIND_KEY) && !columns.contains(key))
                {
                    columns.add(key);
                }
            }
        }
        if (columns.isEmpty())
        {
            return;
        }
        final String[][] cells = new String[records.size()][columns.size()];
        final int[] widths = new int[columns.size()];
        final boolean[] numeric = new boolean[columns.size()];
        for (int c = 0; c < columns.size(); c++)
        {
            widths[c] = columns.get(c).length();
            numeric[c] = true;
            for (int r = 0; r < records.size(); r++)
            {
                final String raw = records.get(r).get(columns.get(c));
                final String cell = cell(columns.get(c), raw);
                cells[r][c] = cell;
                widths[c] = Math.max(widths[c], cell.length());
                numeric[c] &= raw == null || JSON_NUMBER.matcher(raw).matches();
            }
        }
        final StringBuilder line = new StringBuilder();
        for (int c = 0; c < columns.size(); c++)
        {
            pad(line, columns.get(c), widths[c], numeric[c], c == columns.size() - 1);
        }
        out.println(line.toString().stripTrailing());
        for (final String[] row : cells)
        {
            line.setLength(0);
            for (int c = 0; c < columns.size(); c++)
            {
                pad(line, row[c], widths[c], numeric[c], c == columns.size() - 1);
            }
            out.println(line.toString().stripTrailing());
        }
    }

    private static String cell(final String key, final String raw)
    {
        if (raw == null)
        {
            return MISSING;
        }
        if (key.endsWith("Bytes") && LONG.matcher(raw).matches())
        {
            return AfactlSizes.format(Long.parseLong(raw));
        }
        final StringBuilder shown = new StringBuilder(raw.length());
        for (int i = 0; i < raw.length(); i++)
        {
            final char c = raw.charAt(i);
            shown.append(c < 0x20 || c == 0x7f ? ' ' : c);
        }
        return shown.length() == 0 ? "\"\"" : shown.toString();
    }

    private static void pad(final StringBuilder line, final String text, final int width, final boolean right,
        final boolean last)
    {
        if (right)
        {
            line.append(" ".repeat(width - text.length())).append(text);
        }
        else
        {
            line.append(text).append(last ? "" : " ".repeat(width - text.length()));
        }
        if (!last)
        {
            line.append(COLUMN_GAP);
        }
    }

    public static void printJson(final AdminResponse response, final PrintWriter out)
    {
        out.println(toJson(response));
        out.flush();
    }

    /** The response as one JSON document on one line. */
    public static String toJson(final AdminResponse response)
    {
        final StringBuilder json = new StringBuilder(256).append("{\"ok\":").append(response.isOk());
        if (!response.message().isEmpty())
        {
            json.append(",\"message\":");
            jsonString(json, response.message());
        }
        for (final String kind : response.kinds())
        {
            json.append(',');
            jsonString(json, kind.equals("ok") || kind.equals("message") ? "kind." + kind : kind);
            json.append(":[");
            boolean firstRecord = true;
            for (final Map<String, String> record : response.records(kind))
            {
                json.append(firstRecord ? "{" : ",{");
                firstRecord = false;
                boolean firstField = true;
                for (final Map.Entry<String, String> field : record.entrySet())
                {
                    if (field.getKey().equals(AdminResponse.KIND_KEY))
                    {
                        continue;
                    }
                    json.append(firstField ? "" : ",");
                    firstField = false;
                    jsonString(json, field.getKey());
                    json.append(':');
                    jsonValue(json, field.getValue());
                }
                json.append('}');
            }
            json.append(']');
        }
        return json.append('}').toString();
    }

    static void jsonValue(final StringBuilder json, final String value)
    {
        if (value.length() <= 32 && JSON_NUMBER.matcher(value).matches())
        {
            json.append(value);
        }
        else
        {
            jsonString(json, value);
        }
    }

    static void jsonString(final StringBuilder json, final String value)
    {
        json.append('"');
        for (int i = 0; i < value.length(); i++)
        {
            final char c = value.charAt(i);
            switch (c)
            {
                case '"': json.append("\\\""); break;
                case '\\': json.append("\\\\"); break;
                case '\n': json.append("\\n"); break;
                case '\r': json.append("\\r"); break;
                case '\t': json.append("\\t"); break;
                case '\b': json.append("\\b"); break;
                case '\f': json.append("\\f"); break;
                default:
                    if (c < 0x20 || c == 0x7f || c == '\u2028' || c == '\u2029')
                    {
                        json.append(String.format("\\u%04x", (int)c));
                    }
                    else
                    {
                        json.append(c);
                    }
                    break;
            }
        }
        json.append('"');
    }
}
