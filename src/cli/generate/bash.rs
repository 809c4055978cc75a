//! bash's completion: one function, registered with `complete -F`, that finds the command on the
//! line and offers its flags, or the value of the flag before the cursor.

use super::{Value, any_output, names, spelled, top_flags, value, valued};
use crate::cli::Command;
use crate::cli::flags;

pub(super) fn script<J: ?Sized>(commands: &[&Command<J>]) -> String {
    let mut out = format!(
        "# bash completion for armi: armi --generate complete-bash\n\n\
         _armi() {{\n    \
         local cur=${{COMP_WORDS[COMP_CWORD]}} word pending= command= args=0 i\n    \
         COMPREPLY=()\n    \
         # --flag=value is three words for bash.\n    \
         [[ $cur == = ]] && cur=\n    \
         # The command is the first word that is neither a flag nor a flag's value.\n    \
         for ((i = 1; i < COMP_CWORD; i++)); do\n        \
         word=${{COMP_WORDS[i]}}\n        \
         if [[ $word == = ]]; then continue\n        \
         elif [[ -n $pending ]]; then pending=\n        \
         elif [[ $word == -* ]]; then\n            \
         case $word in {}) pending=$word ;; esac\n        \
         elif [[ -z $command ]]; then command=$word\n        \
         else args=$((args + 1))\n        \
         fi\n    \
         done\n    \
         local flags outputs\n    \
         case $command in\n",
        valued("|")
    );
    for c in commands {
        let own: Vec<String> = c.all_flags().map(|f| spelled(f, " ")).collect();
        put!(
            out,
            "        {}) flags='{}' outputs='{}' ;;\n",
            c.name,
            own.join(" "),
            c.outputs.names().join(" ")
        );
    }
    let top: Vec<String> = top_flags().map(|f| spelled(f, " ")).collect();
    put!(
        out,
        "        *) flags='{}' outputs='{}' ;;\n    esac\n    case $pending in\n        '') ;;\n",
        top.join(" "),
        any_output(commands).join(" ")
    );
    // A flag's value: `-o`'s are the command's, in $outputs.
    for f in flags::ALL_FLAGS {
        let reply = match value(f, &["$outputs"]) {
            Value::None | Value::Any => continue,
            Value::Words(w) => format!("COMPREPLY=($(compgen -W \"{}\" -- \"$cur\"))", w.join(" ")),
            Value::File => "_armi_files '' \"$cur\"".to_string(),
            Value::AtFile => "[[ $cur == @* ]] && _armi_files @ \"${cur#@}\"".to_string(),
        };
        put!(out, "        {}) {reply} ;;\n", spelled(f, "|"));
    }
    put!(
        out,
        "        *) ;;\n    esac\n    [[ -n $pending ]] && return 0\n    \
         if [[ $cur == -* ]]; then\n        \
         COMPREPLY=($(compgen -W \"$flags\" -- \"$cur\"))\n    \
         elif [[ -z $command || ( $command == help && $args == 0 ) ]]; then\n        \
         COMPREPLY=($(compgen -W '{}' -- \"$cur\"))\n    \
         fi\n    \
         return 0\n}}\n\n\
         # Files and directories after PREFIX, one a line (names may hold spaces).\n\
         _armi_files() {{\n    \
         local IFS=$'\\n' path\n    \
         compopt -o filenames 2>/dev/null\n    \
         [[ -n $1 ]] && compopt +o filenames -o nospace 2>/dev/null\n    \
         COMPREPLY=()\n    \
         for path in $(compgen -f -- \"$2\"); do\n        \
         # After a prefix, bash does not quote the name itself.\n        \
         [[ -n $1 && -d $path ]] && path+=/\n        \
         [[ -n $1 ]] && printf -v path %q \"$path\"\n        \
         COMPREPLY+=(\"$1$path\")\n    \
         done\n}}\n\n\
         complete -F _armi armi\n",
        names(commands).join(" ")
    );
    out
}
