package io.afasim.harness;

/** One afactl run against a controller: exit code (0 done, 1 refused or unreachable, 2 usage), stdout, stderr. */
public record AfactlResult(int exitCode, String out, String err)
{
    public boolean ok()
    {
        return exitCode == 0;
    }

    @Override
    public String toString()
    {
        return "exit " + exitCode + (out.isBlank() ? "" : "\n" + out.strip()) +
            (err.isBlank() ? "" : "\n" + err.strip());
    }
}
