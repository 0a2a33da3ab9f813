; Inno Setup script: per-user install of the PyInstaller one-folder bundle (dist\cohortdesk).
; Build on Windows after packaging\build.sh's equivalent (pyinstaller packaging\cohortdesk.spec):
;   iscc /DAppVersion=0.1.0 packaging\windows\cohortdesk.iss
; Silent install for IT: CohortDesk-Setup-0.1.0.exe /VERYSILENT /SUPPRESSMSGBOXES /NORESTART
; Silent uninstall:      "%LOCALAPPDATA%\Programs\CohortDesk\unins000.exe" /VERYSILENT

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "CohortDesk"
#define AppExe "cohortdesk.exe"
#define SourceDir "..\..\dist\cohortdesk"

[Setup]
AppId={{6E0C4C4B-9A55-4F8C-A4C1-2B5E4E2A7D31}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=CohortDesk
DefaultDirName={localappdata}\Programs\{#AppName}
DefaultGroupName={#AppName}
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
DisableProgramGroupPage=yes
OutputDir=..\..\dist
OutputBaseFilename=CohortDesk-Setup-{#AppVersion}
SetupIconFile=..\..\resources\icons\cohortdesk.ico
UninstallDisplayIcon={app}\{#AppExe}
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
ArchitecturesInstallIn64BitMode=x64compatible

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
